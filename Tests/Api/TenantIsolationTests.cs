using System.Net;
using Herald.Tests.Harness;

namespace Herald.Tests.Api;

/// <summary>Every resource of application A, read, changed or deleted with application B's key: 404, never 403, and
/// nothing changes.</summary>
[Collection(HeraldAppCollection.Name)]
public sealed class TenantIsolationTests(HeraldAppFixture herald)
{
    [Fact]
    public async Task Another_applications_key_finds_nothing_of_this_application()
    {
        var a = await herald.Admin.CreateApplicationAsync("tenant A");
        var b = await herald.Admin.CreateApplicationAsync("tenant B");
        var keyA = await herald.Admin.PostOkAsync($"/api/v1/apps/{a}/api-keys", new { name = "a" });
        using var clientB = herald.Client(await herald.Admin.CreateApplicationKeyAsync(b));
        var (endpoint, _) = await herald.Admin.CreateEndpointAsync(a, new Uri("https://example.com/a"));
        await herald.Admin.PostOkAsync($"/api/v1/apps/{a}/event-types", new { name = "invoice.paid" });
        var message = await herald.Admin.SendMessageAsync(a, "invoice.paid", new { secret = "of A" });
        var keyId = keyA.GetProperty("id").GetString();

        (HttpMethod Method, string Path, object? Body)[] matrix =
        [
            (HttpMethod.Get, $"/api/v1/apps/{a}", null),
            (HttpMethod.Put, $"/api/v1/apps/{a}", new { name = "hijacked" }),
            (HttpMethod.Delete, $"/api/v1/apps/{a}", null),
            (HttpMethod.Get, $"/api/v1/apps/{a}/api-keys", null),
            (HttpMethod.Post, $"/api/v1/apps/{a}/api-keys", new { name = "mine now" }),
            (HttpMethod.Delete, $"/api/v1/apps/{a}/api-keys/{keyId}", null),
            (HttpMethod.Get, $"/api/v1/apps/{a}/endpoints", null),
            (HttpMethod.Post, $"/api/v1/apps/{a}/endpoints", new { url = "https://evil.example.com" }),
            (HttpMethod.Get, $"/api/v1/apps/{a}/endpoints/{endpoint}", null),
            (HttpMethod.Put, $"/api/v1/apps/{a}/endpoints/{endpoint}", new { url = "https://evil.example.com" }),
            (HttpMethod.Delete, $"/api/v1/apps/{a}/endpoints/{endpoint}", null),
            (HttpMethod.Get, $"/api/v1/apps/{a}/endpoints/{endpoint}/secret", null),
            (HttpMethod.Post, $"/api/v1/apps/{a}/endpoints/{endpoint}/secret/rotate", null),
            (HttpMethod.Get, $"/api/v1/apps/{a}/endpoints/{endpoint}/attempts", null),
            (HttpMethod.Get, $"/api/v1/apps/{a}/event-types", null),
            (HttpMethod.Post, $"/api/v1/apps/{a}/event-types", new { name = "x.y" }),
            (HttpMethod.Get, $"/api/v1/apps/{a}/event-types/invoice.paid", null),
            (HttpMethod.Put, $"/api/v1/apps/{a}/event-types/invoice.paid", new { description = "hijacked" }),
            (HttpMethod.Delete, $"/api/v1/apps/{a}/event-types/invoice.paid", null),
            (HttpMethod.Get, $"/api/v1/apps/{a}/messages", null),
            (HttpMethod.Post, $"/api/v1/apps/{a}/messages", new { eventType = "invoice.paid", payload = new { } }),
            (HttpMethod.Get, $"/api/v1/apps/{a}/messages/{message}", null),
            (HttpMethod.Get, $"/api/v1/apps/{a}/messages/{message}/attempts", null),
            // B's own routes naming A's resources by id.
            (HttpMethod.Get, $"/api/v1/apps/{b}/endpoints/{endpoint}", null),
            (HttpMethod.Put, $"/api/v1/apps/{b}/endpoints/{endpoint}", new { url = "https://evil.example.com" }),
            (HttpMethod.Delete, $"/api/v1/apps/{b}/endpoints/{endpoint}", null),
            (HttpMethod.Get, $"/api/v1/apps/{b}/endpoints/{endpoint}/secret", null),
            (HttpMethod.Get, $"/api/v1/apps/{b}/messages/{message}", null),
            (HttpMethod.Get, $"/api/v1/apps/{b}/messages/{message}/attempts", null),
            (HttpMethod.Delete, $"/api/v1/apps/{b}/api-keys/{keyId}", null),
        ];

        foreach (var (method, path, body) in matrix)
        {
            var (status, _, _) = await clientB.SendAsync(method, path, body);
            Assert.True(status == HttpStatusCode.NotFound, $"{method} {path} with B's key: {(int)status}");
        }

        // Nothing of A changed.
        var (_, appA, _) = await herald.Admin.GetAsync($"/api/v1/apps/{a}");
        Assert.Equal("tenant A", appA.GetProperty("name").GetString());
        var (_, endpointA, _) = await herald.Admin.GetAsync($"/api/v1/apps/{a}/endpoints/{endpoint}");
        Assert.Equal("https://example.com/a", endpointA.GetProperty("url").GetString());
        var (_, typeA, _) = await herald.Admin.GetAsync($"/api/v1/apps/{a}/event-types/invoice.paid");
        Assert.False(typeA.GetProperty("archived").GetBoolean());
        var (_, messagesA, _) = await herald.Admin.GetAsync($"/api/v1/apps/{a}/messages");
        Assert.Equal(1, messagesA.GetProperty("data").GetArrayLength());
        using var clientA = herald.Client(keyA.GetProperty("key").GetString());
        Assert.Equal(HttpStatusCode.OK, (await clientA.GetAsync($"/api/v1/apps/{a}")).Status);
    }
}
