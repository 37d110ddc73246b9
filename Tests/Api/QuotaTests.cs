using System.Net;
using Grpc.Core;
using Herald.Grpc.V1;
using Herald.Tests.Harness;

namespace Herald.Tests.Api;

/// <summary>Per-application quotas (Herald:Quotas, defaults here) and who may move an application's rate limit: past a
/// quota the create is 403 / PERMISSION_DENIED naming the setting, and concurrent creates never overshoot it.</summary>
[Collection(HeraldAppCollection.Name)]
public sealed class QuotaTests(HeraldAppFixture herald)
{
    private const int EndpointQuota = 250;
    private const int ApiKeyQuota = 100;
    private const int EventTypeQuota = 500;

    [Fact]
    public async Task Endpoints_stop_at_the_quota_even_when_created_concurrently_and_a_deletion_makes_room()
    {
        var app = await herald.Admin.CreateApplicationAsync("endpoint-quota");
        var path = $"/api/v1/apps/{app}/endpoints";
        using var client = herald.Client(await herald.Admin.CreateApplicationKeyAsync(app));
        for (var i = 0; i < EndpointQuota - 10; i++) await CreateAsync(client, path, new { url = $"https://example.com/{i}" });

        // The last ten places, raced for by forty requests.
        var raced = await Task.WhenAll(Enumerable.Range(0, 40).Select(i => client.PostAsync(path, new { url = $"https://example.com/race/{i}" })));

        Assert.Equal(10, raced.Count(r => r.Status == HttpStatusCode.Created));
        Assert.All(raced.Where(r => r.Status != HttpStatusCode.Created), r =>
        {
            Assert.Equal(HttpStatusCode.Forbidden, r.Status);
            Assert.Contains("Herald:Quotas:EndpointsPerApplication", r.Body.GetProperty("title").GetString());
        });
        var first = raced.First(r => r.Status == HttpStatusCode.Created).Body.GetProperty("id").GetString();
        Assert.Equal(HttpStatusCode.NoContent, (await client.DeleteAsync($"{path}/{first}")).Status);
        Assert.Equal(HttpStatusCode.Created, (await client.PostAsync(path, new { url = "https://example.com/after-delete" })).Status);
        Assert.Equal(HttpStatusCode.Forbidden, (await client.PostAsync(path, new { url = "https://example.com/one-too-many" })).Status);
    }

    [Fact]
    public async Task An_application_key_cannot_mint_keys_past_the_quota_and_revoking_one_makes_room()
    {
        var app = await herald.Admin.CreateApplicationAsync("key-quota");
        var path = $"/api/v1/apps/{app}/api-keys";
        using var client = herald.Client(await herald.Admin.CreateApplicationKeyAsync(app));
        string? last = null;
        for (var i = 1; i < ApiKeyQuota; i++) last = (await CreateAsync(client, path, new { name = $"k{i}" })).GetProperty("id").GetString();

        var (refused, problem, _) = await client.PostAsync(path, new { name = "one too many" });

        Assert.Equal(HttpStatusCode.Forbidden, refused);
        Assert.Contains("Herald:Quotas:ApiKeysPerApplication", problem.GetProperty("title").GetString());
        Assert.Equal(HttpStatusCode.NoContent, (await client.DeleteAsync($"{path}/{last}")).Status);
        Assert.Equal(HttpStatusCode.Created, (await client.PostAsync(path, new { name = "in its place" })).Status);
    }

    [Fact]
    public async Task Over_grpc_an_event_type_past_the_quota_is_permission_denied()
    {
        var app = await herald.Admin.CreateApplicationAsync("event-type-quota");
        var eventTypes = new EventTypes.EventTypesClient(herald.Grpc);
        var admin = HeraldAppFixture.Bearer(herald.AdminKey);
        for (var i = 0; i < EventTypeQuota; i++)
        {
            // Sequential calls can outrun the key's rate limit (300/s here): wait out a refusal and go on.
            while (true)
            {
                try
                {
                    await eventTypes.CreateAsync(new EventTypeRequest { AppId = app, Name = $"quota.t{i}" }, admin);
                    break;
                }
                catch (RpcException exception) when (exception.StatusCode == StatusCode.ResourceExhausted && !exception.Status.Detail.Contains("Quotas"))
                {
                    await Task.Delay(200);
                }
            }
        }

        var refused = await Assert.ThrowsAsync<RpcException>(() => eventTypes.CreateAsync(new EventTypeRequest { AppId = app, Name = "quota.over" }, admin).ResponseAsync);

        Assert.Equal(StatusCode.PermissionDenied, refused.StatusCode);
        Assert.Contains("Herald:Quotas:EventTypesPerApplication", refused.Status.Detail);
    }

    [Fact]
    public async Task Only_an_admin_key_moves_an_applications_rate_limit()
    {
        var app = await herald.Admin.CreateApplicationAsync(settings: new { name = "limited", rateLimit = 5 });
        using var client = herald.Client(await herald.Admin.CreateApplicationKeyAsync(app));
        var path = $"/api/v1/apps/{app}";

        var (raised, problem, _) = await client.PutAsync(path, new { name = "limited", rateLimit = 5000 });
        var (lifted, _, _) = await client.PutAsync(path, new { name = "limited" });
        var (renamed, body, _) = await client.PutAsync(path, new { name = "renamed", rateLimit = 5 });
        var (byAdmin, adminBody, _) = await herald.Admin.PutAsync(path, new { name = "renamed", rateLimit = 50 });

        Assert.Equal(HttpStatusCode.Forbidden, raised);
        Assert.Contains("rateLimit", problem.GetProperty("title").GetString());
        Assert.Equal(HttpStatusCode.Forbidden, lifted);
        Assert.Equal(HttpStatusCode.OK, renamed);
        Assert.Equal("renamed", body.GetProperty("name").GetString());
        Assert.Equal(HttpStatusCode.OK, byAdmin);
        Assert.Equal(50, adminBody.GetProperty("rateLimit").GetInt32());
    }

    /// <summary>Creates, waiting out the key's rate limit (sequential calls can outrun 300/s); insists on 201.</summary>
    private static async Task<System.Text.Json.JsonElement> CreateAsync(RestClient client, string path, object body)
    {
        while (true)
        {
            var (status, json, _) = await client.PostAsync(path, body);
            if (status == HttpStatusCode.TooManyRequests)
            {
                await Task.Delay(200);
                continue;
            }
            Assert.True(status == HttpStatusCode.Created, $"POST {path}: {(int)status} {json}");
            return json;
        }
    }
}
