using System.Net;
using System.Text.Json;
using Aspire.Hosting.Testing;
using Herald.Tests.Harness;

namespace Herald.Tests.Api;

[Collection(HeraldAppCollection.Name)]
public sealed class MessagesApiTests(HeraldAppFixture herald)
{
    [Fact]
    public async Task A_message_is_accepted_once_committed_and_can_be_read_back()
    {
        var app = await herald.Admin.CreateApplicationAsync();
        var (status, accepted, response) = await herald.Admin.PostAsync($"/api/v1/apps/{app}/messages",
            new { eventType = "user.created", eventId = "evt-1", payload = new { id = 7 } });

        Assert.Equal(HttpStatusCode.Accepted, status);
        var id = accepted.GetProperty("id").GetString()!;
        Assert.StartsWith("msg_", id);
        Assert.Equal($"/api/v1/apps/{app}/messages/{id}", response.Headers.Location?.OriginalString);

        var (_, stored, _) = await herald.Admin.GetAsync($"/api/v1/apps/{app}/messages/{id}");
        Assert.Equal("user.created", stored.GetProperty("eventType").GetString());
        Assert.Equal("evt-1", stored.GetProperty("eventId").GetString());
        Assert.Equal(7, stored.GetProperty("payload").GetProperty("id").GetInt32());
        Assert.Equal(accepted.GetProperty("createdAt").GetDateTimeOffset(), stored.GetProperty("createdAt").GetDateTimeOffset());
    }

    [Fact]
    public async Task A_repeated_event_id_returns_the_existing_message()
    {
        var app = await herald.Admin.CreateApplicationAsync();
        var first = await herald.Admin.SendMessageAsync(app, "user.created", new { v = 1 }, eventId: "dup");
        var (status, second, _) = await herald.Admin.PostAsync($"/api/v1/apps/{app}/messages", new { eventType = "user.created", eventId = "dup", payload = new { v = 2 } });

        Assert.Equal(HttpStatusCode.Accepted, status);
        Assert.Equal(first, second.GetProperty("id").GetString());
        Assert.Equal(1, second.GetProperty("payload").GetProperty("v").GetInt32());

        // The same eventId in another application is another message.
        var other = await herald.Admin.CreateApplicationAsync();
        Assert.NotEqual(first, await herald.Admin.SendMessageAsync(other, "user.created", new { v = 3 }, eventId: "dup"));
    }

    [Fact]
    public async Task Messages_list_newest_first_filtered_by_event_type_and_time()
    {
        var app = await herald.Admin.CreateApplicationAsync();
        var before = DateTimeOffset.UtcNow.AddSeconds(-1);
        var ids = new List<string>();
        for (var i = 0; i < 5; i++) ids.Add(await herald.Admin.SendMessageAsync(app, i % 2 == 0 ? "a.even" : "a.odd", new { i }));

        var (_, all, _) = await herald.Admin.GetAsync($"/api/v1/apps/{app}/messages?limit=3");
        Assert.Equal(ids.AsEnumerable().Reverse().Take(3), all.GetProperty("data").EnumerateArray().Select(m => m.GetProperty("id").GetString()));
        Assert.False(all.GetProperty("done").GetBoolean());
        var (_, rest, _) = await herald.Admin.GetAsync($"/api/v1/apps/{app}/messages?limit=3&iterator={all.GetProperty("iterator").GetString()}");
        Assert.Equal(ids.Take(2).Reverse(), rest.GetProperty("data").EnumerateArray().Select(m => m.GetProperty("id").GetString()));
        Assert.True(rest.GetProperty("done").GetBoolean());

        var (_, odd, _) = await herald.Admin.GetAsync($"/api/v1/apps/{app}/messages?eventType=a.odd");
        Assert.Equal([ids[3], ids[1]], odd.GetProperty("data").EnumerateArray().Select(m => m.GetProperty("id").GetString()));

        var (_, none, _) = await herald.Admin.GetAsync($"/api/v1/apps/{app}/messages?before={before.UtcDateTime:O}");
        Assert.Equal(0, none.GetProperty("data").GetArrayLength());
        var (_, after, _) = await herald.Admin.GetAsync($"/api/v1/apps/{app}/messages?after={before.UtcDateTime:O}");
        Assert.Equal(5, after.GetProperty("data").GetArrayLength());
        Assert.Equal(HttpStatusCode.BadRequest, (await herald.Admin.GetAsync($"/api/v1/apps/{app}/messages?after=yesterday")).Status);
    }

    [Theory]
    [InlineData("""{"eventType":"invoice.paid","payload":[1,2]}""", "payload")]
    [InlineData("""{"eventType":"invoice.paid"}""", "payload")]
    [InlineData("""{"eventType":"not valid!","payload":{}}""", "eventType")]
    [InlineData("""{"payload":{}}""", "eventType")]
    [InlineData("""{"eventType":7,"payload":{}}""", "eventType")]
    [InlineData("""{"eventType":"a","eventId":"","payload":{}}""", "eventId")]
    [InlineData("""{"eventType":"a","payload":{}""", "body")]
    [InlineData("""["eventType"]""", "body")]
    [InlineData("", "body")]
    public async Task Invalid_messages_are_400_problems_naming_the_field(string json, string field)
    {
        var app = await herald.Admin.CreateApplicationAsync();
        var (status, problem, response) = await herald.Admin.PostAsync($"/api/v1/apps/{app}/messages", json);

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.True(problem.GetProperty("errors").TryGetProperty(field, out _), problem.ToString());
    }

    [Theory]
    [InlineData("""{"eventType":"invoice.paid","payload":{"s":"\ud800"}}""", "payload")]
    [InlineData("""{"eventType":"invoice.paid","payload":{"s":"x\udc00"}}""", "payload")]
    [InlineData("""{"eventType":"invoice.paid","payload":{"s":"\udc00\ud800"}}""", "payload")]
    [InlineData("""{"eventType":"invoice.paid","payload":{"s":"\ud800\u0041"}}""", "payload")]
    [InlineData("""{"eventType":"invoice.paid","payload":{"list":[{"\ud800":1}]}}""", "payload")]
    [InlineData("""{"eventType":"\ud800","payload":{}}""", "eventType")]
    [InlineData("""{"eventType":"invoice.paid","eventId":"\udc00","payload":{}}""", "eventId")]
    [InlineData("""{"eventType":"invoice.paid","eventId":"a\u0000b","payload":{}}""", "eventId")]
    [InlineData("""{"eventType":"invoice\u0000paid","payload":{}}""", "eventType")]
    [InlineData("""{"\ud800":1,"eventType":"invoice.paid","payload":{}}""", "body")]
    public async Task A_lone_surrogate_or_nul_a_message_cannot_hold_is_400_naming_the_field_and_nothing_is_stored(string json, string field)
    {
        var app = await herald.Admin.CreateApplicationAsync();
        await AssertRefusedAsync(app, System.Text.Encoding.UTF8.GetBytes(json), field);
    }

    public static TheoryData<string, string, string> InvalidUtf8 => new()
    {
        // A template with @ where the bytes go, the bytes (hex), and the field the problem must name.
        { """{"eventType":"invoice.paid","payload":{"s":"a@b"}}""", "FF", "payload" },
        { """{"eventType":"invoice.paid","payload":{"s":"a@b"}}""", "C328", "payload" },
        { """{"eventType":"invoice.paid","payload":{"s":"@"}}""", "EDA080", "payload" },
        { """{"eventType":"invoice.paid","payload":{"s":"@"}}""", "EDBFBF", "payload" },
        { """{"eventType":"invoice.paid","payload":{"s":"@"}}""", "C0AF", "payload" },
        { """{"eventType":"invoice.paid","payload":{"s":"@"}}""", "F4908080", "payload" },
        { """{"eventType":"invoice.paid","payload":{"s":"x@"}}""", "E282", "payload" },
        { """{"eventType":"invoice.paid","payload":{"s":"@"}}""", "80", "payload" },
        { """{"eventType":"invoice.paid","payload":{"s":"\n@"}}""", "FE", "payload" },
        { """{"eventType":"invoice.paid","payload":{"k@":1}}""", "FF", "payload" },
        { """{"eventType":"invoice.paid","payload":{"a":{"b":["@"]}}}""", "EDA080", "payload" },
        { """{"eventType":"invoice.paid","payload":{"a":{"k@":true}}}""", "C328", "payload" },
        { """{"eventType":"inv@oice.paid","payload":{}}""", "FF", "eventType" },
        { """{"eventType":"@","payload":{}}""", "EDA080", "eventType" },
        { """{"eventType":"invoice.paid","eventId":"@","payload":{}}""", "C328", "eventId" },
        { """{"eventType":"invoice.paid","eventId":"id-@","payload":{}}""", "F4908080", "eventId" },
        { """{"eventType":"invoice.paid","payload":{},"extra@":1}""", "FF", "body" },
        { """{"eventType":"invoice.paid","payload":{},"extra":"@"}""", "EDA080", "extra" },
    };

    [Theory]
    [MemberData(nameof(InvalidUtf8))]
    public async Task Invalid_utf8_in_a_message_body_is_400_naming_the_field_and_nothing_is_stored(string template, string hex, string field)
    {
        var app = await herald.Admin.CreateApplicationAsync();
        await AssertRefusedAsync(app, StorableTextTests.Splice(template, Convert.FromHexString(hex)), field);
    }

    /// <summary>Posts <paramref name="body"/> (with an idempotency-key, which must not be kept either) and insists on a
    /// 400 naming <paramref name="field"/>, nothing written, and the application's messages still readable.</summary>
    private async Task AssertRefusedAsync(string app, byte[] body, string field)
    {
        await herald.Admin.SendMessageAsync(app, "before.refusal", new { ok = true });
        await using var database = await herald.OpenDatabaseAsync();
        var before = await ApiFuzzTests.FingerprintAsync(database);

        var (status, problem, response) = await herald.Admin.PostAsync($"/api/v1/apps/{app}/messages", body, Guid.NewGuid().ToString());

        Assert.True(status == HttpStatusCode.BadRequest, $"{(int)status}: {problem}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.True(problem.GetProperty("errors").TryGetProperty(field, out _), problem.ToString());
        Assert.Equal(before, await ApiFuzzTests.FingerprintAsync(database));
        var (listed, list, _) = await herald.Admin.GetAsync($"/api/v1/apps/{app}/messages");
        Assert.Equal(HttpStatusCode.OK, listed);
        Assert.Equal("before.refusal", Assert.Single(list.GetProperty("data").EnumerateArray()).GetProperty("eventType").GetString());
    }

    [Fact]
    public async Task A_nul_escape_in_a_payload_is_kept_and_delivered_byte_for_byte()
    {
        // The payload column is json, which keeps its text verbatim: \u0000 stays an escape, never a NUL in a text column.
        var app = await herald.Admin.CreateApplicationAsync();
        var url = herald.Receiver.UrlFor(Guid.NewGuid().ToString("N"));
        await herald.Admin.CreateEndpointAsync(app, url);
        const string payload = """{"s":"a\u0000b","t":"\ud83d\ude00 \u00e9"}""";

        var (status, accepted, _) = await herald.Admin.PostAsync($"/api/v1/apps/{app}/messages", $$"""{"eventType":"nul.kept","payload":{{payload}}}""");

        Assert.Equal(HttpStatusCode.Accepted, status);
        Assert.Equal("a\0b", accepted.GetProperty("payload").GetProperty("s").GetString());
        var id = accepted.GetProperty("id").GetString()!;
        Assert.Equal(payload, (await herald.Receiver.WaitForAsync(id, TimeSpan.FromSeconds(30), url.AbsolutePath)).Body);
        var (_, stored, _) = await herald.Admin.GetAsync($"/api/v1/apps/{app}/messages/{id}");
        Assert.Equal("a\0b", stored.GetProperty("payload").GetProperty("s").GetString());
        Assert.Equal("😀 é", stored.GetProperty("payload").GetProperty("t").GetString());
    }

    [Fact]
    public async Task A_stored_payload_no_json_writer_would_encode_does_not_break_reads()
    {
        // A row accepted before lone surrogates were refused: reads hand its text out as stored rather than fail.
        var app = await herald.Admin.CreateApplicationAsync();
        var first = await herald.Admin.SendMessageAsync(app, "a.b", new { n = 1 });
        const string poisoned = """{"s":"\ud800","n":[1,2]}""";
        var id = $"msg_poisoned{Guid.NewGuid():N}";
        await using (var database = await herald.OpenDatabaseAsync())
        await using (var insert = new Npgsql.NpgsqlCommand(
            "INSERT INTO messages (id, application_id, event_type, payload, created_at) VALUES ($1, $2, 'a.b', $3::json, now())", database))
        {
            insert.Parameters.Add(new() { Value = id });
            insert.Parameters.Add(new() { Value = app });
            insert.Parameters.Add(new() { Value = poisoned });
            await insert.ExecuteNonQueryAsync();
        }
        var last = await herald.Admin.SendMessageAsync(app, "a.b", new { n = 3 });

        var (status, stored, _) = await herald.Admin.GetAsync($"/api/v1/apps/{app}/messages/{id}");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(poisoned, stored.GetProperty("payload").GetRawText());
        var (listed, list, _) = await herald.Admin.GetAsync($"/api/v1/apps/{app}/messages");
        Assert.Equal(HttpStatusCode.OK, listed);
        Assert.Equal(new[] { first, id, last }.Order(), list.GetProperty("data").EnumerateArray().Select(m => m.GetProperty("id").GetString()!).Order());

        var messages = new Herald.Grpc.V1.Messages.MessagesClient(herald.Grpc);
        var auth = HeraldAppFixture.Bearer(herald.AdminKey);
        Assert.Equal(poisoned, (await messages.GetAsync(new() { AppId = app, MessageId = id }, auth)).PayloadJson);
        Assert.Equal(3, (await messages.ListAsync(new() { AppId = app }, auth)).Data.Count);
    }

    [Fact]
    public async Task A_payload_over_the_cap_is_413_and_nothing_is_stored()
    {
        var app = await herald.Admin.CreateApplicationAsync();
        var big = new { blob = new string('x', 256 * 1024) };
        var (status, problem, _) = await herald.Admin.PostAsync($"/api/v1/apps/{app}/messages", new { eventType = "big.one", payload = big });

        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, status);
        Assert.Equal(413, problem.GetProperty("status").GetInt32());
        var (_, list, _) = await herald.Admin.GetAsync($"/api/v1/apps/{app}/messages");
        Assert.Equal(0, list.GetProperty("data").GetArrayLength());

        var huge = JsonSerializer.Serialize(new { eventType = "big.one", payload = new { blob = new string('x', 4 * 1024 * 1024) } });

        // A declared length beyond the cap is refused before the body is read: a client that waits for
        // "100 Continue", as clients of large uploads do, gets its 413 without sending the body.
        using var uploader = new HttpClient(new SocketsHttpHandler { Expect100ContinueTimeout = TimeSpan.FromSeconds(30) })
        {
            BaseAddress = herald.App.GetEndpoint("api", "http"),
        };
        async Task<HttpResponseMessage> UploadHugeAsync(string contentType)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, $"/api/v1/apps/{app}/messages")
            {
                Content = new StringContent(huge, System.Text.Encoding.UTF8, contentType),
            };
            request.Headers.Authorization = new("Bearer", herald.AdminKey);
            request.Headers.ExpectContinue = true;
            return await uploader.SendAsync(request);
        }
        using (var response = await UploadHugeAsync("application/json"))
        {
            Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
        }

        // A chunked body is cut off while it is read. The server answers and closes the connection while the client
        // may still be sending, so the client reads its answer beside the write (HttpClient would report the write's
        // broken pipe instead). Closing with request bytes still unread makes the server's kernel send a reset, which
        // now and then reaches the client before the answer does: a connection that ends without an answer is tried
        // again, and every answer that does arrive must be the 413.
        var answers = new List<string>();
        for (var attempt = 0; attempt < 5 && !answers.Contains("HTTP/1.1 413"); attempt++)
            answers.Add(await PostChunkedAsync($"/api/v1/apps/{app}/messages", huge));
        Assert.All(answers.Where(a => a.Length > 0), a => Assert.Equal("HTTP/1.1 413", a));
        Assert.Contains("HTTP/1.1 413", answers);

        // Calling a REST route a gRPC call (by content-type) lifts no limit: the body is refused unread, as a REST problem.
        using (var response = await UploadHugeAsync("application/grpc"))
        {
            Assert.Equal(HttpStatusCode.UnsupportedMediaType, response.StatusCode);
            Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
            Assert.False(response.Headers.Contains("grpc-status"));
        }
        // What decides that a call is gRPC is the route it matched: a REST call without a key is a REST 401, whatever
        // content-type it claims.
        using (var anonymous = new HttpClient { BaseAddress = herald.Admin.Http.BaseAddress })
        using (var request = new HttpRequestMessage(HttpMethod.Get, $"/api/v1/apps/{app}/messages")
        {
            Content = new StringContent("", System.Text.Encoding.UTF8, "application/grpc"),
        })
        {
            using var response = await anonymous.SendAsync(request);
            Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
            Assert.False(response.Headers.Contains("grpc-status"));
        }

        var (_, after, _) = await herald.Admin.GetAsync($"/api/v1/apps/{app}/messages");
        Assert.Equal(0, after.GetProperty("data").GetArrayLength());
    }

    /// <summary>POSTs <paramref name="json"/> chunked over a raw connection; returns the response's status line
    /// (protocol and code).</summary>
    private async Task<string> PostChunkedAsync(string path, string json)
    {
        var api = herald.App.GetEndpoint("api", "http");
        using var client = new System.Net.Sockets.TcpClient();
        await client.ConnectAsync(api.Host, api.Port);
        var stream = client.GetStream();
        var head = $"POST {path} HTTP/1.1\r\nHost: {api.Authority}\r\nAuthorization: Bearer {herald.AdminKey}\r\n"
            + "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n";
        var send = Task.Run(async () =>
        {
            try
            {
                await stream.WriteAsync(System.Text.Encoding.ASCII.GetBytes(head));
                var body = System.Text.Encoding.UTF8.GetBytes(json);
                for (var offset = 0; offset < body.Length; offset += 64 * 1024)
                {
                    var length = Math.Min(64 * 1024, body.Length - offset);
                    await stream.WriteAsync(System.Text.Encoding.ASCII.GetBytes($"{length:x}\r\n"));
                    await stream.WriteAsync(body.AsMemory(offset, length));
                    await stream.WriteAsync("\r\n"u8.ToArray());
                }
                await stream.WriteAsync("0\r\n\r\n"u8.ToArray());
            }
            catch (IOException)
            {
                // The server closed the connection after answering: expected once the cap is passed.
            }
        });
        using var reader = new StreamReader(stream, System.Text.Encoding.ASCII);
        var statusLine = await reader.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(30));
        await send.WaitAsync(TimeSpan.FromSeconds(30));
        return string.Join(' ', (statusLine ?? "").Split(' ').Take(2));
    }

    [Fact]
    public async Task Messages_of_an_unknown_application_or_unknown_id_are_404()
    {
        Assert.Equal(HttpStatusCode.NotFound, (await herald.Admin.PostAsync("/api/v1/apps/app_missing/messages", new { eventType = "a", payload = new { } })).Status);
        var app = await herald.Admin.CreateApplicationAsync();
        Assert.Equal(HttpStatusCode.NotFound, (await herald.Admin.GetAsync($"/api/v1/apps/{app}/messages/msg_missing")).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await herald.Admin.GetAsync($"/api/v1/apps/{app}/messages/msg_missing/attempts")).Status);
    }
}
