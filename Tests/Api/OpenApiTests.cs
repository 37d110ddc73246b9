using System.Net;
using System.Text.Json;
using Aspire.Hosting.Testing;
using Herald.Tests.Harness;

namespace Herald.Tests.Api;

[Collection(HeraldAppCollection.Name)]
public sealed class OpenApiTests(HeraldAppFixture herald)
{
    [Fact]
    public async Task Development_serves_the_openapi_document_and_an_interactive_reference()
    {
        using var http = herald.App.CreateHttpClient("api");

        var document = JsonDocument.Parse(await http.GetStringAsync("/openapi/v1.json")).RootElement;
        var paths = document.GetProperty("paths").EnumerateObject().Select(p => p.Name).ToList();
        Assert.Contains("/api/v1/apps/{appId}/messages", paths);
        Assert.Contains("/api/v1/apps/{appId}/endpoints/{endpointId}/secret/rotate", paths);
        Assert.Contains("/api/v1/apps/{appId}/messages/{messageId}/attempts", paths);
        Assert.Contains("/api/v1/apps/{appId}/messages/{messageId}/endpoints/{endpointId}/resend", paths);
        Assert.Contains("/api/v1/apps/{appId}/endpoints/{endpointId}/recover", paths);
        Assert.Contains("/api/v1/apps/{appId}/messages/{messageId}/deliveries", paths);
        Assert.Contains("/api/v1/apps/{appId}/portal-access", paths);
        Assert.Contains("/api/v1/apps/{appId}/endpoints/{endpointId}/test-event", paths);
        // The portal's own routes are pages and a session, not the API.
        Assert.DoesNotContain(paths, p => p.StartsWith("/portal", StringComparison.Ordinal));
        var stream = document.GetProperty("paths").GetProperty("/api/v1/apps/{appId}/deliveries/stream").GetProperty("get");
        Assert.True(stream.GetProperty("responses").GetProperty("200").GetProperty("content").TryGetProperty("text/event-stream", out _), stream.ToString());

        var reference = await http.GetAsync("/scalar/");
        Assert.Equal(HttpStatusCode.OK, reference.StatusCode);
        Assert.Equal("text/html", reference.Content.Headers.ContentType?.MediaType);
    }
}
