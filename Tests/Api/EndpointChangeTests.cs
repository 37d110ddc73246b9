using System.Net;
using System.Text.Json;
using Herald.Deliveries;
using Herald.Grpc.V1;
using Herald.Tests.Harness;
using StackExchange.Redis;

namespace Herald.Tests.Api;

/// <summary>What an endpoint change does beyond the endpoint row: it is announced to the Processors on Redis, and
/// re-enabling an endpoint resumes the deliveries the engine paused while it was disabled.</summary>
[Collection(HeraldAppCollection.Name)]
public sealed class EndpointChangeTests(HeraldAppFixture herald)
{
    private static readonly string[] OtherTypes = ["never.sent"];
    private static readonly TimeSpan NoticeTimeout = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task Update_rotation_and_deletion_are_announced_with_the_endpoint_id_and_refusals_are_not()
    {
        var app = await herald.Admin.CreateApplicationAsync("changes");
        var (endpoint, _) = await herald.Admin.CreateEndpointAsync(app, new Uri("https://example.com/changes"), OtherTypes);
        var (other, _) = await herald.Admin.CreateEndpointAsync(app, new Uri("https://example.com/other"), OtherTypes);
        var queue = await (await herald.RedisAsync()).GetSubscriber().SubscribeAsync(RedisChannel.Literal(EndpointChanges.Channel));
        // Other tests change endpoints too: only notices naming this test's two endpoints count.
        Task<string> NextAsync() => NextNoticeAsync(queue, [endpoint, other]);
        try
        {
            var path = $"/api/v1/apps/{app}/endpoints/{endpoint}";
            Assert.Equal(HttpStatusCode.OK, (await herald.Admin.PutAsync(path, new { url = "https://example.com/v2" })).Status);
            Assert.Equal(endpoint, await NextAsync());

            Assert.Equal(HttpStatusCode.NoContent, (await herald.Admin.PostAsync($"{path}/secret/rotate", null)).Status);
            Assert.Equal(endpoint, await NextAsync());

            await new Endpoints.EndpointsClient(herald.Grpc).UpdateAsync(new UpdateEndpointRequest
            {
                AppId = app, EndpointId = endpoint, Endpoint = new() { Url = "https://example.com/v3", Disabled = true },
            }, HeraldAppFixture.Bearer(herald.AdminKey));
            Assert.Equal(endpoint, await NextAsync());

            // Refused changes commit nothing, so they announce nothing; another endpoint's change names that endpoint.
            Assert.Equal(HttpStatusCode.BadRequest, (await herald.Admin.PutAsync(path, new { url = "ftp://example.com" })).Status);
            Assert.Equal(HttpStatusCode.NotFound, (await herald.Admin.PutAsync($"/api/v1/apps/{app}/endpoints/ep_unknown", new { url = "https://example.com" })).Status);
            Assert.Equal(HttpStatusCode.NoContent, (await herald.Admin.PostAsync($"/api/v1/apps/{app}/endpoints/{other}/secret/rotate", null)).Status);
            Assert.Equal(other, await NextAsync());

            Assert.Equal(HttpStatusCode.NoContent, (await herald.Admin.DeleteAsync(path)).Status);
            Assert.Equal(endpoint, await NextAsync());
        }
        finally
        {
            await queue.UnsubscribeAsync();
        }
    }

    [Fact]
    public async Task Re_enabling_an_endpoint_resumes_its_paused_deliveries_and_clears_the_reason()
    {
        var app = await herald.Admin.CreateApplicationAsync("re-enable");
        var url = DeliveriesApiTests.SlowReceiver(herald);
        var created = await herald.Admin.PostOkAsync($"/api/v1/apps/{app}/endpoints", new { url, eventTypes = OtherTypes, disabled = true });
        var endpoint = created.GetProperty("id").GetString()!;
        Assert.Equal("Disabled through the API.", created.GetProperty("disabledReason").GetString());
        var paused = await herald.Admin.SendMessageAsync(app, "invoice.paid", new { n = 1 });
        var failed = await herald.Admin.SendMessageAsync(app, "invoice.paid", new { n = 2 });
        var pausedAt = DateTimeOffset.UtcNow.AddMinutes(-30);
        await DeliveriesApiTests.SeedAsync(herald, paused, endpoint, app, "paused", pausedAt, attempts: 2, lastError: "endpoint disabled");
        await DeliveriesApiTests.SeedAsync(herald, failed, endpoint, app, "failed", pausedAt, attempts: 4, lastError: "HTTP 500");

        // An update that leaves it disabled resumes nothing.
        var path = $"/api/v1/apps/{app}/endpoints/{endpoint}";
        Assert.Equal(HttpStatusCode.OK, (await herald.Admin.PutAsync(path, new { url, eventTypes = OtherTypes, disabled = true })).Status);
        Assert.Equal("paused", (await DeliveriesApiTests.ReadRowAsync(herald, paused, endpoint)).Status);

        var before = DateTimeOffset.UtcNow;
        var (status, enabled, _) = await herald.Admin.PutAsync(path, new { url, eventTypes = OtherTypes, disabled = false });
        var after = DateTimeOffset.UtcNow;

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.False(enabled.GetProperty("disabled").GetBoolean());
        Assert.Equal(JsonValueKind.Null, enabled.GetProperty("disabledReason").ValueKind);
        var resumed = await DeliveriesApiTests.ReadRowAsync(herald, paused, endpoint);
        DeliveriesApiTests.AssertDueNow(resumed, before, after);
        Assert.Equal(2, resumed.Attempts);
        // Only paused deliveries resume: a dead-lettered one needs an explicit recover.
        Assert.Equal("failed", (await DeliveriesApiTests.ReadRowAsync(herald, failed, endpoint)).Status);
        // And the resumed one is delivered.
        await herald.Receiver.WaitForAsync(paused, TimeSpan.FromSeconds(15), url.AbsolutePath);
        Assert.Equal([paused], herald.Receiver.ReceivedAt(url).Select(w => w.MessageId));
    }

    /// <summary>The next notice naming one of <paramref name="endpointIds"/>.</summary>
    private static async Task<string> NextNoticeAsync(ChannelMessageQueue queue, string[] endpointIds)
    {
        using var timeout = new CancellationTokenSource(NoticeTimeout);
        try
        {
            while (true)
            {
                var notice = (string?)(await queue.ReadAsync(timeout.Token)).Message;
                if (notice is not null && endpointIds.Contains(notice)) return notice;
            }
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException($"No change of {string.Join(" or ", endpointIds)} was announced within {NoticeTimeout}.");
        }
    }
}
