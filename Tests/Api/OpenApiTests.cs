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

    /// <summary>The committed contract (clients/herald-api.v1.json, from which clients/dotnet is generated) is what the
    /// API serves. After a deliberate API change, regenerate it with HERALD_UPDATE_OPENAPI=1 on this test, then the
    /// client (clients/README.md).</summary>
    [Fact]
    public async Task The_committed_openapi_document_is_the_one_the_api_serves()
    {
        using var http = herald.App.CreateHttpClient("api");
        var served = Normalized(await http.GetStringAsync("/openapi/v1.json"));
        var path = Path.Combine(AppHostPublish.RepositoryRoot(), "clients", "herald-api.v1.json");
        if (Environment.GetEnvironmentVariable("HERALD_UPDATE_OPENAPI") == "1") await File.WriteAllTextAsync(path, served);

        Assert.True(File.Exists(path), $"{path} is missing: run this test once with HERALD_UPDATE_OPENAPI=1.");
        var committed = Normalized(await File.ReadAllTextAsync(path));
        Assert.True(committed == served, "The API's OpenAPI document differs from clients/herald-api.v1.json: " +
            $"{FirstDifference(committed, served)}. If the change is intended, run this test with HERALD_UPDATE_OPENAPI=1 and regenerate the client.");
        // No key is needed to read it.
        using var anonymous = herald.App.CreateHttpClient("api");
        Assert.Equal(HttpStatusCode.OK, (await anonymous.GetAsync("/openapi/v1.json")).StatusCode);
    }

    [Fact]
    public void The_drift_check_sees_a_changed_document()
    {
        const string document = """{"openapi":"3.1.1","paths":{"/a":{"get":{}}}}""";
        Assert.Equal(Normalized(document), Normalized(document.Replace("{\"openapi\"", "{ \"openapi\"")));
        Assert.NotEqual(Normalized(document), Normalized(document.Replace("/a", "/b")));
        Assert.Contains("/b", FirstDifference(Normalized(document), Normalized(document.Replace("/a", "/b"))));
    }

    /// <summary>Indented, with a final newline: what is committed, and a whitespace-blind comparison.</summary>
    private static string Normalized(string json) =>
        JsonSerializer.Serialize(JsonDocument.Parse(json).RootElement, new JsonSerializerOptions { WriteIndented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }) + "\n";

    private static string FirstDifference(string expected, string actual)
    {
        var (a, b) = (expected.Split('\n'), actual.Split('\n'));
        for (var i = 0; i < Math.Max(a.Length, b.Length); i++)
        {
            var (left, right) = (i < a.Length ? a[i] : "(end)", i < b.Length ? b[i] : "(end)");
            if (left != right) return $"line {i + 1}: committed `{left.Trim()}`, served `{right.Trim()}`";
        }
        return "none";
    }
}
