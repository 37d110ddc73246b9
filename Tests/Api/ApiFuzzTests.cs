using System.Net;
using System.Text;
using System.Text.Json;
using FsCheck;
using FsCheck.Fluent;
using Herald.Tests.Harness;
using Npgsql;

namespace Herald.Tests.Api;

/// <summary>
/// Generated bodies, headers, URLs and query strings thrown at the HTTP API: no input may produce a 5xx, a rejected
/// request must leave the database exactly as it was, and whatever was accepted must read back. Generated text includes
/// what a .NET string cannot carry through the serializer and UTF-8 — lone surrogates as JSON escapes, invalid UTF-8,
/// NUL — through stand-ins (①…⑥, see <see cref="Unencodable"/>) that the request encoding replaces.
/// </summary>
[Collection(HeraldAppCollection.Name)]
public sealed class ApiFuzzTests(HeraldAppFixture herald)
{
    private const int Samples = 150;

    [Fact]
    public Task Create_message_never_fails_the_server_and_rejections_write_nothing() =>
        FuzzAsync(async (client, app) => (await AppRequestsAsync(app)).Messages);

    [Fact]
    public Task Create_endpoint_never_fails_the_server_and_rejections_write_nothing() =>
        FuzzAsync(async (client, app) => (await AppRequestsAsync(app)).Endpoints);

    [Fact]
    public Task Applications_event_types_and_keys_never_fail_the_server_and_rejections_write_nothing() =>
        FuzzAsync(async (client, app) => (await AppRequestsAsync(app)).Others);

    [Fact]
    public Task Reads_with_generated_paths_and_queries_never_fail_the_server() =>
        FuzzAsync(async (client, app) => (await AppRequestsAsync(app)).Reads);

    private async Task FuzzAsync(Func<RestClient, string, Task<Gen<FuzzRequest>>> requests)
    {
        var app = await herald.Admin.CreateApplicationAsync("fuzz");
        await herald.Admin.PostOkAsync($"/api/v1/apps/{app}/endpoints", new { url = "https://example.com/fuzz" });
        // Its own key, so the shared admin key's rate limit is left to the other tests.
        var adminKey = (await herald.Admin.PostOkAsync("/api/v1/api-keys", new { name = "fuzz" })).GetProperty("key").GetString()!;
        using var client = herald.Client(adminKey);
        var generator = await requests(client, app);

        await using var database = await herald.OpenDatabaseAsync();
        var before = await FingerprintAsync(database);
        foreach (var request in generator.Sample(Samples))
        {
            using var message = request.ToHttpRequest();
            HttpResponseMessage response;
            try
            {
                response = await client.Http.SendAsync(message);
            }
            catch (HttpRequestException exception)
            {
                Assert.Fail($"The server dropped the connection for {request}: {exception.Message}");
                return;
            }
            var status = (int)response.StatusCode;
            Assert.True(status < 500, $"{status} for {request}: {await response.Content.ReadAsStringAsync()}");
            if (response.StatusCode == HttpStatusCode.TooManyRequests) await Task.Delay(1000);

            var after = await FingerprintAsync(database);
            if (status >= 400) Assert.True(before == after, $"{status} for {request} changed the database.");
            before = after;
        }

        // Nothing accepted may break a read: the whole list, then each message.
        var (listed, list, _) = await client.GetAsync($"/api/v1/apps/{app}/messages?limit=250");
        Assert.Equal(HttpStatusCode.OK, listed);
        foreach (var message in list.GetProperty("data").EnumerateArray())
            Assert.Equal(HttpStatusCode.OK, (await client.GetAsync($"/api/v1/apps/{app}/messages/{message.GetProperty("id").GetString()}")).Status);
    }

    // Everything a request can change, except what the delivery path updates on its own (attempts, the outbox).
    internal static async Task<string> FingerprintAsync(NpgsqlConnection database)
    {
        await using var query = new NpgsqlCommand("""
            SELECT concat_ws('|',
              (SELECT md5(coalesce(string_agg(id || name || coalesce(rate_limit::text, '-') || require_registered_event_types || updated_at, ',' ORDER BY id), '')) FROM applications),
              (SELECT md5(coalesce(string_agg(id || coalesce(revoked_at::text, '-'), ',' ORDER BY id), '')) FROM api_keys),
              (SELECT md5(coalesce(string_agg(application_id || name || description || archived || updated_at, ',' ORDER BY application_id, name), '')) FROM event_types),
              (SELECT md5(coalesce(string_agg(id || url || description || disabled || headers::text || updated_at, ',' ORDER BY id), '')) FROM endpoints),
              (SELECT md5(coalesce(string_agg(endpoint_id || secret || coalesce(expires_at::text, '-'), ',' ORDER BY endpoint_id, created_at), '')) FROM endpoint_secrets),
              (SELECT count(*) FROM messages),
              (SELECT count(*) FROM idempotency_keys))
            """, database);
        return (string)(await query.ExecuteScalarAsync())!;
    }

    private static Task<(Gen<FuzzRequest> Messages, Gen<FuzzRequest> Endpoints, Gen<FuzzRequest> Others, Gen<FuzzRequest> Reads)> AppRequestsAsync(string app)
    {
        var messages =
            from body in Gen.Frequency((3, MessageBody()), (1, Text()), (1, Gen.Constant("")))
            from contentType in ContentType()
            from key in IdempotencyKey()
            select new FuzzRequest("POST", $"/api/v1/apps/{app}/messages", body, contentType, key);

        var endpoints =
            from body in Gen.Frequency((3, EndpointBody()), (1, Text()))
            from contentType in ContentType()
            from key in IdempotencyKey()
            select new FuzzRequest("POST", $"/api/v1/apps/{app}/endpoints", body, contentType, key);

        var others = Gen.OneOf(
            from body in ApplicationBody() from key in IdempotencyKey() select new FuzzRequest("POST", "/api/v1/apps", body, "application/json", key),
            from body in ApplicationBody() select new FuzzRequest("PUT", $"/api/v1/apps/{app}", body, "application/json", null),
            from body in EventTypeBody() from key in IdempotencyKey() select new FuzzRequest("POST", $"/api/v1/apps/{app}/event-types", body, "application/json", key),
            from name in Text() from body in EventTypeBody() select new FuzzRequest("PUT", $"/api/v1/apps/{app}/event-types/{Uri.EscapeDataString(name)}", body, "application/json", null),
            from body in Gen.OneOf(Text(), Gen.Constant("""{"name":"k"}"""), Gen.Constant("{}")) select new FuzzRequest("POST", $"/api/v1/apps/{app}/api-keys", body, "application/json", null),
            from segment in Text() select new FuzzRequest("DELETE", $"/api/v1/apps/{app}/endpoints/{Uri.EscapeDataString(segment)}", null, null, null),
            from segment in Text() select new FuzzRequest("DELETE", $"/api/v1/apps/{Uri.EscapeDataString(segment)}/api-keys/key_x", null, null, null),
            from body in Gen.OneOf(Text(), Gen.Constant("""{"key":"whsec_abc"}"""), SecretLike().Select(s => JsonSerializer.Serialize(new { key = s })))
            select new FuzzRequest("POST", $"/api/v1/apps/{app}/endpoints/ep_missing/secret/rotate", body, "application/json", null));

        var reads =
            from path in Gen.Elements("/api/v1/apps", $"/api/v1/apps/{app}/messages", $"/api/v1/apps/{app}/endpoints",
                $"/api/v1/apps/{app}/event-types", $"/api/v1/apps/{app}/api-keys", "/api/v1/api-keys")
            from name in Gen.Elements("limit", "iterator", "before", "after", "eventType", "includeArchived")
            from value in Gen.Frequency((3, Text()), (1, Gen.Elements("0", "-1", "251", "99999999999", "2026-13-45", "true", "")))
            from segment in Gen.Frequency((4, Gen.Constant("")), (1, Text().Select(t => "/" + Uri.EscapeDataString(t))))
            select new FuzzRequest("GET", $"{path}{segment}?{name}={Uri.EscapeDataString(value)}", null, null, null);

        return Task.FromResult((messages, endpoints, others, reads));
    }

    // ---- generators

    /// <summary>What the serializer would replace (it writes a lone surrogate as U+FFFD) or UTF-8 cannot encode: a
    /// stand-in in generated text becomes these bytes in a body (a JSON escape inside a string, or raw bytes) and this
    /// percent-encoding in a URL.</summary>
    private static readonly (char StandIn, byte[] InBody, string InUrl)[] Unencodable =
    [
        ('①', "\\ud800"u8.ToArray(), "%ED%A0%80"),
        ('②', "\\udc00"u8.ToArray(), "%ED%B0%80"),
        ('③', "\\u0000"u8.ToArray(), "%00"),
        ('④', [0xFF], "%FF"),
        ('⑤', [0xED, 0xA0, 0x80], "%C3%28"),
        ('⑥', [0xE2, 0x82], "%E2%82"),
    ];

    private static readonly string[] Alphabet =
        ["a", "Z", "0", "9", ".", "_", "-", " ", "\"", "\\", "{", "}", "[", "]", ":", ",", "é", "✓", "𝄞", "\u0000", "\u001f", "\n", "\r", "\t", "%", "/", "?", "#", "@", "\ud800", "\udc00",
         .. Unencodable.Select(u => u.StandIn.ToString())];

    private static Gen<string> Text() =>
        Gen.Frequency(
            (8, Gen.ArrayOf(Gen.Elements(Alphabet)).Select(parts => string.Concat(parts))),
            (1, Gen.Choose(200, 5000).Select(n => new string('x', n))),
            (1, Gen.Elements("null", "true", "0", "-0", "1e999", "\"\"", "{}", "[]", "{\"a\":", "}")));

    private static Gen<string> EventTypeName() =>
        Gen.Frequency((3, Gen.Elements("invoice.paid", "user.created", "a", "a.b.c", "x-y_z.9")), (2, Text()));

    private static Gen<object?> JsonValue(int depth) => depth <= 0
        ? Gen.OneOf(Text().Select(t => (object?)t), Gen.Choose(int.MinValue, int.MaxValue).Select(i => (object?)i), Gen.Elements<object?>(null, true, false, 1.5, double.MaxValue))
        : Gen.Frequency(
            (3, JsonValue(0)),
            (1, Gen.ArrayOf(JsonValue(depth - 1), 3).Select(values => (object?)values)),
            (2, Gen.ArrayOf(Gen.Zip(Text(), JsonValue(depth - 1)), 4).Select(pairs => (object?)pairs.DistinctBy(p => p.Item1).ToDictionary(p => p.Item1, p => p.Item2))));

    private static Gen<string> MessageBody() =>
        from eventType in Gen.Frequency((4, EventTypeName().Select(t => (object?)t)), (1, JsonValue(0)))
        from eventId in Gen.Frequency((2, Gen.Constant<object?>(null)), (2, Text().Select(t => (object?)t)), (1, JsonValue(0)))
        from payload in Gen.Frequency((3, JsonValue(2)), (2, Gen.Constant<object?>(new Dictionary<string, object?> { ["ok"] = 1 })))
        from omit in Gen.Elements("", "eventType", "payload", "eventId")
        select Json(new Dictionary<string, object?> { ["eventType"] = eventType, ["eventId"] = eventId, ["payload"] = payload }, omit);

    private static Gen<string> Url() =>
        from scheme in Gen.Elements("https", "http", "ftp", "javascript", "", "HTTPS", "file")
        from host in Gen.Frequency((3, Gen.Elements("example.com", "127.0.0.1", "[::1]", "xn--nxa.example", "ex ample.com", "", "user:pass@example.com", "example.com:99999", "例え.jp")), (1, Text()))
        from path in Gen.Frequency((3, Gen.Elements("/", "/hooks", "/a?b=c", "/#frag", "/%zz")), (1, Text()))
        select scheme.Length == 0 ? host + path : $"{scheme}://{host}{path}";

    private static Gen<string> SecretLike() =>
        Gen.OneOf(Text(), Gen.Choose(0, 80).Select(n => "whsec_" + Convert.ToBase64String(new byte[n])));

    private static Gen<string> EndpointBody() =>
        from url in Gen.Frequency((4, Url().Select(u => (object?)u)), (1, JsonValue(0)))
        from eventTypes in Gen.Frequency((2, Gen.Constant<object?>(null)), (2, Gen.ArrayOf(EventTypeName(), 4).Select(a => (object?)a)), (1, JsonValue(1)))
        from rateLimit in Gen.Frequency((2, Gen.Constant<object?>(null)), (2, Gen.Choose(-5, 200_000).Select(i => (object?)i)), (1, JsonValue(0)))
        from headers in Gen.Frequency((2, Gen.Constant<object?>(null)), (2, Gen.ArrayOf(Gen.Zip(Gen.Frequency((2, Gen.Elements("X-Tenant", "webhook-id", "Host", "Authorization")), (1, Text())), Text()), 3)
            .Select(pairs => (object?)pairs.DistinctBy(p => p.Item1).ToDictionary(p => p.Item1, p => p.Item2))), (1, JsonValue(1)))
        from secret in Gen.Frequency((3, Gen.Constant<object?>(null)), (1, SecretLike().Select(s => (object?)s)))
        from disabled in Gen.Elements<object?>(null, true, false, "yes")
        from description in Gen.Frequency((3, Gen.Constant<object?>(null)), (1, Text().Select(t => (object?)t)))
        from omit in Gen.Elements("", "url")
        select Json(new Dictionary<string, object?>
        {
            ["url"] = url, ["eventTypes"] = eventTypes, ["rateLimit"] = rateLimit, ["headers"] = headers,
            ["secret"] = secret, ["disabled"] = disabled, ["description"] = description,
        }, omit);

    private static Gen<string> ApplicationBody() =>
        from name in Gen.Frequency((3, Text().Select(t => (object?)t)), (1, JsonValue(1)))
        from rateLimit in Gen.Frequency((2, Gen.Constant<object?>(null)), (2, Gen.Choose(-5, 2_000_000).Select(i => (object?)i)), (1, JsonValue(0)))
        from require in Gen.Elements<object?>(null, true, false, "no", 1)
        select Json(new Dictionary<string, object?> { ["name"] = name, ["rateLimit"] = rateLimit, ["requireRegisteredEventTypes"] = require }, "");

    private static Gen<string> EventTypeBody() =>
        from name in Gen.Frequency((3, EventTypeName().Select(t => (object?)t)), (1, JsonValue(0)))
        from description in Gen.Frequency((2, Gen.Constant<object?>(null)), (2, Text().Select(t => (object?)t)), (1, Gen.Constant<object?>(new string('d', 1100))))
        from archived in Gen.Elements<object?>(null, true, false, "maybe")
        select Json(new Dictionary<string, object?> { ["name"] = name, ["description"] = description, ["archived"] = archived }, "");

    private static Gen<string?> ContentType() =>
        Gen.Frequency((6, Gen.Constant<string?>("application/json")), (1, Gen.Elements<string?>(null, "text/plain", "application/json; charset=utf-16", "application/x-www-form-urlencoded")));

    // HttpClient itself refuses non-ASCII and line breaks in headers, so keys are drawn from what can be sent.
    private static Gen<string?> IdempotencyKey() =>
        Gen.Frequency(
            (4, Gen.Constant<string?>(null)),
            (1, Gen.ArrayOf(Gen.Elements("a", "Z", "0", "-", " ", "\t", "\"", "{", "~", "%")).Select(parts => (string?)string.Concat(parts))),
            (1, Gen.Choose(250, 300).Select(n => (string?)new string('k', n))));

    private static string Json(Dictionary<string, object?> fields, string omit)
    {
        fields.Remove(omit);
        // Lone surrogates cannot be encoded as UTF-8 JSON by the serializer; send them escaped, as a client could.
        return JsonSerializer.Serialize(fields, new JsonSerializerOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping });
    }

    public sealed record FuzzRequest(string Method, string Path, string? Body, string? ContentType, string? IdempotencyKey)
    {
        public HttpRequestMessage ToHttpRequest()
        {
            var path = Path;
            foreach (var (standIn, _, inUrl) in Unencodable) path = path.Replace(Uri.EscapeDataString(standIn.ToString()), inUrl, StringComparison.Ordinal);
            var request = new HttpRequestMessage(new HttpMethod(Method), path);
            if (Body is not null)
            {
                request.Content = new ByteArrayContent(EncodeBody(Body));
                if (ContentType is not null) request.Content.Headers.TryAddWithoutValidation("Content-Type", ContentType);
            }
            if (IdempotencyKey is not null) request.Headers.TryAddWithoutValidation("idempotency-key", IdempotencyKey);
            return request;
        }

        private static byte[] EncodeBody(string body)
        {
            // The serializer may have escaped a stand-in.
            foreach (var (standIn, _, _) in Unencodable) body = body.Replace($"\\u{(int)standIn:X4}", standIn.ToString(), StringComparison.OrdinalIgnoreCase);
            var bytes = new List<byte>(body.Length);
            var start = 0;
            for (var i = 0; i <= body.Length; i++)
            {
                var standIn = i < body.Length ? Array.FindIndex(Unencodable, u => u.StandIn == body[i]) : -1;
                if (i < body.Length && standIn < 0) continue;
                bytes.AddRange(Encoding.UTF8.GetBytes(body[start..i]));
                if (standIn >= 0) bytes.AddRange(Unencodable[standIn].InBody);
                start = i + 1;
            }
            return [.. bytes];
        }

        public override string ToString() =>
            $"{Method} {Path} [{ContentType}] key={JsonSerializer.Serialize(IdempotencyKey)} body={(Body is null ? "-" : JsonSerializer.Serialize(Body.Length > 300 ? Body[..300] + "…" : Body))}";
    }
}
