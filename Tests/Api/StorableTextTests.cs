using System.Net;
using System.Text;
using Aspire.Hosting.Testing;
using Herald.Tests.Harness;

namespace Herald.Tests.Api;

/// <summary>
/// Text that PostgreSQL or JSON cannot hold faithfully — lone surrogates, invalid UTF-8, NUL — in the REST API's
/// bodies, route values, query strings and headers: a 400 naming the field, and nothing written. (A message's fields:
/// <see cref="MessagesApiTests"/>; gRPC: <see cref="GrpcApiTests"/>.)
/// </summary>
[Collection(HeraldAppCollection.Name)]
public sealed class StorableTextTests(HeraldAppFixture herald)
{
    // What goes where a body template has @: JSON escapes (as text) or raw bytes (hex).
    private static readonly (string Name, byte[] Bytes)[] Unstorable =
    [
        ("lone high surrogate escape", Encoding.ASCII.GetBytes(@"\ud800")),
        ("lone low surrogate escape", Encoding.ASCII.GetBytes(@"x\udc00")),
        ("NUL escape", Encoding.ASCII.GetBytes(@"a\u0000")),
        ("invalid UTF-8 byte", [0xFF]),
        ("UTF-8 encoded surrogate", [0xED, 0xA0, 0x80]),
        ("truncated UTF-8 sequence", [0x61, 0xE2, 0x82]),
    ];

    private static readonly (string Method, string Path, string Template, string Field)[] Routes =
    [
        ("POST", "/api/v1/apps", """{"name":"a@"}""", "name"),
        ("PUT", "/api/v1/apps/{app}", """{"name":"a@"}""", "name"),
        ("POST", "/api/v1/apps/{app}/event-types", """{"name":"a.b","description":"@"}""", "description"),
        ("PUT", "/api/v1/apps/{app}/event-types/a.b", """{"description":"@"}""", "description"),
        ("POST", "/api/v1/apps/{app}/event-types", """{"name":"c.d","description":"ok","x@":1}""", "body"),
        ("POST", "/api/v1/apps/{app}/endpoints", """{"url":"https://example.com/","description":"@"}""", "description"),
        ("POST", "/api/v1/apps/{app}/endpoints", """{"url":"https://example.com/@"}""", "url"),
        ("POST", "/api/v1/apps/{app}/endpoints", """{"url":"https://example.com/","headers":{"X-A":"@"}}""", "headers"),
        ("POST", "/api/v1/apps/{app}/endpoints", """{"url":"https://example.com/","headers":{"X-@":"v"}}""", "headers"),
        ("POST", "/api/v1/apps/{app}/endpoints", """{"url":"https://example.com/","eventTypes":["a.b","@"]}""", "eventTypes"),
        ("POST", "/api/v1/apps/{app}/api-keys", """{"name":"@"}""", "name"),
        ("POST", "/api/v1/api-keys", """{"name":"@"}""", "name"),
    ];

    /// <summary>A JSON body: <paramref name="template"/> with <paramref name="bytes"/> where its @ is.</summary>
    public static byte[] Splice(string template, byte[] bytes)
    {
        var parts = template.Split('@');
        return [.. Encoding.UTF8.GetBytes(parts[0]), .. bytes, .. Encoding.UTF8.GetBytes(parts[1])];
    }

    public static TheoryData<int, int> Cases()
    {
        var cases = new TheoryData<int, int>();
        for (var route = 0; route < Routes.Length; route++)
            for (var text = 0; text < Unstorable.Length; text++) cases.Add(route, text);
        return cases;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task Unstorable_text_in_a_body_is_400_naming_the_field_and_writes_nothing(int route, int text)
    {
        var app = await herald.Admin.CreateApplicationAsync("storable");
        await herald.Admin.PostOkAsync($"/api/v1/apps/{app}/event-types", new { name = "a.b" });
        var (method, path, template, field) = Routes[route];
        await using var database = await herald.OpenDatabaseAsync();
        var before = await ApiFuzzTests.FingerprintAsync(database);

        var (status, problem, response) = await herald.Admin.SendAsync(new HttpMethod(method), path.Replace("{app}", app),
            Splice(template, Unstorable[text].Bytes), method == "POST" ? Guid.NewGuid().ToString() : null);

        Assert.True(status == HttpStatusCode.BadRequest, $"{Unstorable[text].Name}: {(int)status} {problem}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.True(problem.GetProperty("errors").TryGetProperty(field, out _), $"{Unstorable[text].Name}: {problem}");
        Assert.Equal(before, await ApiFuzzTests.FingerprintAsync(database));
        Assert.Equal(HttpStatusCode.OK, (await herald.Admin.GetAsync($"/api/v1/apps/{app}")).Status);
    }

    [Theory]
    [InlineData("/api/v1/apps/{app}/messages?eventType=%00", "eventType")]
    [InlineData("/api/v1/apps/{app}/messages?iterator=a%00", "iterator")]
    [InlineData("/api/v1/apps/{app}/endpoints?limit=1%00", "limit")]
    public async Task Nul_in_a_query_string_is_400_naming_it(string path, string field)
    {
        var app = await herald.Admin.CreateApplicationAsync("storable");
        var (status, problem, _) = await herald.Admin.GetAsync(path.Replace("{app}", app));

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.True(problem.GetProperty("errors").TryGetProperty(field, out _), problem.ToString());
    }

    [Theory]
    [InlineData("/api/v1/apps/%00/messages")]
    [InlineData("/api/v1/apps/{app}/event-types/a%00b")]
    public async Task Nul_in_a_route_value_is_400(string path)
    {
        // Kestrel refuses a path that decodes to NUL before the API sees it, so there is no problem body to name it.
        var app = await herald.Admin.CreateApplicationAsync("storable");
        Assert.Equal(HttpStatusCode.BadRequest, (await herald.Admin.GetAsync(path.Replace("{app}", app))).Status);
    }

    [Theory]
    [InlineData("/api/v1/apps/{app}/messages/%ED%A0%80")]
    [InlineData("/api/v1/apps/{app}/messages/%FF")]
    [InlineData("/api/v1/apps/{app}/messages?eventType=%ED%A0%80")]
    [InlineData("/api/v1/apps/{app}/messages?iterator=%C3%28")]
    [InlineData("/api/v1/apps/{app}/event-types/%ED%B0%80")]
    public async Task Percent_encoded_invalid_utf8_in_a_route_value_or_query_string_is_a_client_error_at_most(string path)
    {
        // Such sequences are not decoded (they stay percent-encoded text), so they are ordinary, storable values.
        var app = await herald.Admin.CreateApplicationAsync("storable");
        var (status, _, _) = await herald.Admin.GetAsync(path.Replace("{app}", app));

        Assert.True((int)status is 200 or 400 or 404, $"{(int)status} for {path}");
    }

    [Theory]
    [InlineData("00")]
    [InlineData("FF")]
    [InlineData("EDA080")]
    [InlineData("C328")]
    [InlineData("6B01")]
    public async Task An_idempotency_key_that_is_not_storable_text_is_400_and_nothing_is_written(string hex)
    {
        // HttpClient sends ASCII only; Kestrel refuses other bytes in a header before the API sees them.
        var app = await herald.Admin.CreateApplicationAsync("storable");
        await using var database = await herald.OpenDatabaseAsync();
        var before = await ApiFuzzTests.FingerprintAsync(database);

        var status = await RawHttp.SendAsync(herald.App.GetEndpoint("api", "http"), "POST", Encoding.ASCII.GetBytes($"/api/v1/apps/{app}/messages"),
            herald.AdminKey, [("idempotency-key", [.. "key-"u8, .. Convert.FromHexString(hex)])], """{"eventType":"a.b","payload":{}}""");

        Assert.Equal(400, status);
        Assert.Equal(before, await ApiFuzzTests.FingerprintAsync(database));
    }

    [Theory]
    [InlineData("FF")]
    [InlineData("EDA080")]
    [InlineData("00")]
    public async Task Raw_bytes_in_the_request_target_that_are_not_storable_text_are_400(string hex)
    {
        var app = await herald.Admin.CreateApplicationAsync("storable");
        var api = herald.App.GetEndpoint("api", "http");
        byte[] bytes = Convert.FromHexString(hex);

        Assert.Equal(400, await RawHttp.SendAsync(api, "GET", [.. Encoding.ASCII.GetBytes($"/api/v1/apps/{app}/messages/msg_"), .. bytes], herald.AdminKey, []));
        Assert.Equal(400, await RawHttp.SendAsync(api, "GET", [.. Encoding.ASCII.GetBytes($"/api/v1/apps/{app}/messages?eventType=a"), .. bytes], herald.AdminKey, []));
    }
}
