using System.Net;
using System.Text.Json;
using Grpc.Core;
using Herald.Grpc.V1;
using Herald.Messages;
using Herald.Tests.Harness;
using Npgsql;
using NpgsqlTypes;

namespace Herald.Tests.Api;

/// <summary>The attempt search (application-wide, per message, per endpoint) over REST and gRPC: each filter, their
/// combinations, paging, tenant isolation and bad input. The attempts are seeded with chosen outcomes and times (the
/// endpoints subscribe to an event type no message has, so the engine adds none of its own).</summary>
[Collection(HeraldAppCollection.Name)]
public sealed class AttemptSearchTests(HeraldAppFixture herald)
{
    private static readonly string[] OtherTypes = ["never.sent"];

    private sealed record Seeded(string Id, string MessageId, string EndpointId, string Status, int? HttpStatus, string? Error, DateTimeOffset At);

    /// <summary>Seven attempts over two endpoints and two messages: a1…a6 a minute apart from t0, a7 three days earlier.</summary>
    private async Task<(string App, RestClient Client, string Key, string A, string B, string M1, string M2, DateTimeOffset T0, Seeded[] All)> SeedAsync()
    {
        var app = await herald.Admin.CreateApplicationAsync("attempt-search");
        var key = await herald.Admin.CreateApplicationKeyAsync(app);
        var client = herald.Client(key);
        var (a, _) = await client.CreateEndpointAsync(app, new Uri("https://example.com/a"), OtherTypes);
        var (b, _) = await client.CreateEndpointAsync(app, new Uri("https://example.com/b"), OtherTypes);
        var m1 = await client.SendMessageAsync(app, "invoice.paid", new { n = 1 });
        var m2 = await client.SendMessageAsync(app, "invoice.paid", new { n = 2 });
        var t0 = new DateTimeOffset(DateTimeOffset.UtcNow.AddHours(-2).UtcTicks / TimeSpan.TicksPerSecond * TimeSpan.TicksPerSecond, TimeSpan.Zero);
        Seeded[] all =
        [
            Attempt(m1, a, "succeeded", 200, null, t0.AddMinutes(1)),
            Attempt(m1, a, "failed", 503, null, t0.AddMinutes(2)),
            Attempt(m2, a, "failed", null, "timeout", t0.AddMinutes(3)),
            Attempt(m1, b, "failed", 404, null, t0.AddMinutes(4)),
            Attempt(m2, b, "succeeded", 204, null, t0.AddMinutes(5)),
            Attempt(m2, a, "failed", 302, null, t0.AddMinutes(6)),
            Attempt(m2, b, "failed", 500, null, t0.AddDays(-3)),
        ];
        foreach (var (message, endpoint) in new[] { (m1, a), (m2, a), (m1, b), (m2, b) })
            await DeliveriesApiTests.SeedAsync(herald, message, endpoint, app, "failed", t0, attempts: 2, lastError: null);
        await using var database = await herald.OpenDatabaseAsync();
        foreach (var attempt in all)
        {
            await using var insert = new NpgsqlCommand("""
                INSERT INTO delivery_attempts (id, application_id, message_id, endpoint_id, status, http_status, latency_ms, error, attempted_at)
                VALUES ($1, $2, $3, $4, $5, $6, 10, $7, $8)
                """, database);
            insert.Parameters.Add(new() { Value = attempt.Id });
            insert.Parameters.Add(new() { Value = app });
            insert.Parameters.Add(new() { Value = attempt.MessageId });
            insert.Parameters.Add(new() { Value = attempt.EndpointId });
            insert.Parameters.Add(new() { Value = attempt.Status });
            insert.Parameters.Add(new() { Value = (object?)attempt.HttpStatus ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Integer });
            insert.Parameters.Add(new() { Value = (object?)attempt.Error ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text });
            insert.Parameters.Add(new() { Value = attempt.At });
            await insert.ExecuteNonQueryAsync();
        }
        return (app, client, key, a, b, m1, m2, t0, all);
    }

    // As the Processor makes them: the id from the instant recorded as attempted_at.
    private static Seeded Attempt(string message, string endpoint, string status, int? http, string? error, DateTimeOffset at) =>
        new(SortableId.New("atmpt", at), message, endpoint, status, http, error, at);

    private static string[] Newest(IEnumerable<Seeded> attempts) => [.. attempts.OrderByDescending(a => a.At).Select(a => a.Id)];

    private static string Time(DateTimeOffset time) => Uri.EscapeDataString(time.ToString("O"));

    [Fact]
    public async Task Each_filter_and_their_combinations_select_exactly_the_matching_attempts_newest_first()
    {
        var (app, client, _, a, b, m1, m2, t0, all) = await SeedAsync();
        var expectations = new (string Query, IEnumerable<Seeded> Expected)[]
        {
            ("", all),
            ("status=failed", all.Where(x => x.Status == "failed")),
            ("status=succeeded", all.Where(x => x.Status == "succeeded")),
            ("statusClass=2xx", all.Where(x => x.HttpStatus is >= 200 and < 300)),
            ("statusClass=3xx", all.Where(x => x.HttpStatus is >= 300 and < 400)),
            ("statusClass=4xx", all.Where(x => x.HttpStatus is >= 400 and < 500)),
            ("statusClass=5xx", all.Where(x => x.HttpStatus is >= 500 and < 600)),
            ("statusClass=none", all.Where(x => x.HttpStatus is null)),
            ($"endpointId={a}", all.Where(x => x.EndpointId == a)),
            ($"endpointId={a}&status=failed", all.Where(x => x.EndpointId == a && x.Status == "failed")),
            ($"messageId={m1}", all.Where(x => x.MessageId == m1)),
            ($"messageId={m2}&endpointId={b}&statusClass=5xx", all.Where(x => x.MessageId == m2 && x.EndpointId == b && x.HttpStatus >= 500)),
            ($"after={Time(t0)}", all.Where(x => x.At > t0)),
            ($"before={Time(t0)}", all.Where(x => x.At < t0)),
            // Both bounds are exclusive, to the millisecond: a2 (t0+2m) and a5 (t0+5m) are outside, then a millisecond
            // further out, inside.
            ($"after={Time(t0.AddMinutes(2))}&before={Time(t0.AddMinutes(5))}", all.Where(x => x.At > t0.AddMinutes(2) && x.At < t0.AddMinutes(5))),
            ($"after={Time(t0.AddMinutes(2).AddMilliseconds(-1))}&before={Time(t0.AddMinutes(5).AddMilliseconds(1))}&status=failed",
                all.Where(x => x.At >= t0.AddMinutes(2) && x.At <= t0.AddMinutes(5) && x.Status == "failed")),
            ($"after={Time(t0.AddDays(-4))}&before={Time(t0.AddDays(-2))}", all.Where(x => x.At < t0)),
            // Contradictions (success is exactly a 2xx response) match nothing.
            // The ends of time are valid bounds (an id holds no time before 1970).
            ("after=9999-12-31T23:59:59.9999999Z", []),
            ("before=0001-01-01T00:00:00Z", []),
            ("after=0001-01-01T00:00:00Z&before=9999-12-31T23:59:59.9999999Z", all),
            ("status=failed&statusClass=2xx", []),
            ("status=succeeded&statusClass=5xx", []),
            ("status=succeeded&statusClass=none", []),
            ("status=succeeded&statusClass=2xx", all.Where(x => x.Status == "succeeded")),
        };
        foreach (var (query, expected) in expectations)
        {
            var (status, body, _) = await client.GetAsync($"/api/v1/apps/{app}/attempts?{query}");
            Assert.True(status == HttpStatusCode.OK, $"{query}: {(int)status} {body}");
            Assert.Equal(Newest(expected), Ids(body));
            Assert.True(body.GetProperty("done").GetBoolean(), query);
        }

        // The per-endpoint and per-message lists take the same filters, within their endpoint or message.
        var (_, byEndpoint, _) = await client.GetAsync($"/api/v1/apps/{app}/endpoints/{a}/attempts?statusClass=5xx");
        Assert.Equal(Newest(all.Where(x => x.EndpointId == a && x.HttpStatus >= 500)), Ids(byEndpoint));
        (_, byEndpoint, _) = await client.GetAsync($"/api/v1/apps/{app}/endpoints/{b}/attempts?messageId={m2}&after={Time(t0)}");
        Assert.Equal(Newest(all.Where(x => x.EndpointId == b && x.MessageId == m2 && x.At > t0)), Ids(byEndpoint));
        var (_, byMessage, _) = await client.GetAsync($"/api/v1/apps/{app}/messages/{m2}/attempts?endpointId={b}");
        Assert.Equal(Newest(all.Where(x => x.MessageId == m2 && x.EndpointId == b)), Ids(byMessage));
        (_, byMessage, _) = await client.GetAsync($"/api/v1/apps/{app}/messages/{m1}/attempts?status=failed&statusClass=none");
        Assert.Empty(Ids(byMessage));

        // A returned attempt carries what was recorded.
        var (_, timeout, _) = await client.GetAsync($"/api/v1/apps/{app}/attempts?statusClass=none");
        var only = Assert.Single(timeout.GetProperty("data").EnumerateArray());
        Assert.Equal("timeout", only.GetProperty("error").GetString());
        Assert.Equal(JsonValueKind.Null, only.GetProperty("httpStatus").ValueKind);
        Assert.Equal(t0.AddMinutes(3), only.GetProperty("attemptedAt").GetDateTimeOffset());
    }

    [Fact]
    public async Task Pages_follow_the_iterator_with_the_filter_kept_and_the_grpc_search_agrees()
    {
        var (app, client, key, a, _, _, m2, t0, all) = await SeedAsync();
        foreach (var query in new[] { "", "status=failed", $"endpointId={a}&after={Time(t0.AddDays(-5))}" })
        {
            var expected = Newest(query switch
            {
                "" => all,
                "status=failed" => all.Where(x => x.Status == "failed"),
                _ => all.Where(x => x.EndpointId == a),
            });
            var seen = new List<string>();
            string? iterator = null;
            var pages = 0;
            while (true)
            {
                var (status, page, _) = await client.GetAsync(
                    $"/api/v1/apps/{app}/attempts?limit=2&{query}{(iterator is null ? "" : $"&iterator={Uri.EscapeDataString(iterator)}")}");
                Assert.Equal(HttpStatusCode.OK, status);
                var ids = Ids(page);
                Assert.True(ids.Length <= 2, page.ToString());
                seen.AddRange(ids);
                pages++;
                if (page.GetProperty("done").GetBoolean()) break;
                iterator = page.GetProperty("iterator").GetString();
                Assert.False(string.IsNullOrEmpty(iterator));
            }
            Assert.Equal(expected, seen);
            Assert.Equal(Math.Max(1, (expected.Length + 1) / 2), pages);
        }

        var messages = new Herald.Grpc.V1.Messages.MessagesClient(herald.Grpc);
        var auth = HeraldAppFixture.Bearer(key);
        var grpc = await messages.SearchAttemptsAsync(new SearchAttemptsRequest { AppId = app, EndpointId = a, Status = "failed" }, auth);
        Assert.Equal(Newest(all.Where(x => x.EndpointId == a && x.Status == "failed")), grpc.Data.Select(x => x.Id).ToArray());
        Assert.True(grpc.Done);
        grpc = await messages.SearchAttemptsAsync(new SearchAttemptsRequest
        {
            AppId = app, MessageId = m2, StatusClass = "none", After = Google.Protobuf.WellKnownTypes.Timestamp.FromDateTimeOffset(t0),
        }, auth);
        var timeout = Assert.Single(grpc.Data);
        Assert.Equal("timeout", timeout.Error);
        Assert.False(timeout.HasHttpStatus);
        grpc = await messages.SearchAttemptsAsync(new SearchAttemptsRequest { AppId = app, Page = new PageRequest { Limit = 3 } }, auth);
        Assert.Equal(Newest(all).Take(3), grpc.Data.Select(x => x.Id));
        Assert.False(grpc.Done);
        grpc = await messages.SearchAttemptsAsync(new SearchAttemptsRequest { AppId = app, Page = new PageRequest { Limit = 3, Iterator = grpc.Iterator } }, auth);
        Assert.Equal(Newest(all).Skip(3).Take(3), grpc.Data.Select(x => x.Id));
    }

    [Theory]
    [InlineData("status=pending", "status")]
    [InlineData("status=SUCCEEDED", "status")]
    [InlineData("statusClass=6xx", "statusClass")]
    [InlineData("statusClass=500", "statusClass")]
    [InlineData("after=yesterday", "after")]
    [InlineData("before=2026-13-01T00:00:00Z", "before")]
    [InlineData("after=2026-11-02T00:00:00Z&before=2026-11-01T00:00:00Z", "before")]
    [InlineData("after=2026-11-01T00:00:00Z&before=2026-11-01T00:00:00Z", "before")]
    [InlineData("limit=0", "limit")]
    [InlineData("limit=251", "limit")]
    public async Task Bad_filters_are_400_problems_naming_the_parameter_on_every_list(string query, string field)
    {
        var app = await herald.Admin.CreateApplicationAsync("attempt-search-bad");
        var (endpoint, _) = await herald.Admin.CreateEndpointAsync(app, new Uri("https://example.com/bad"), OtherTypes);
        var message = await herald.Admin.SendMessageAsync(app, "invoice.paid", new { n = 1 });
        foreach (var path in new[] { $"/api/v1/apps/{app}/attempts", $"/api/v1/apps/{app}/endpoints/{endpoint}/attempts", $"/api/v1/apps/{app}/messages/{message}/attempts" })
        {
            var (status, problem, response) = await herald.Admin.GetAsync($"{path}?{query}");
            Assert.True(status == HttpStatusCode.BadRequest, $"{path}?{query}: {(int)status} {problem}");
            Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
            Assert.True(problem.GetProperty("errors").TryGetProperty(field, out _), problem.ToString());
        }
    }

    [Fact]
    public async Task Bad_grpc_filters_are_invalid_argument_naming_the_field()
    {
        var app = await herald.Admin.CreateApplicationAsync("attempt-search-bad-grpc");
        var messages = new Herald.Grpc.V1.Messages.MessagesClient(herald.Grpc);
        var auth = HeraldAppFixture.Bearer(herald.AdminKey);
        foreach (var (request, field) in new (SearchAttemptsRequest, string)[]
        {
            (new() { AppId = app, Status = "done" }, "status"),
            (new() { AppId = app, StatusClass = "1xx" }, "statusClass"),
            (new() { AppId = app, After = Google.Protobuf.WellKnownTypes.Timestamp.FromDateTimeOffset(DateTimeOffset.UtcNow),
                Before = Google.Protobuf.WellKnownTypes.Timestamp.FromDateTimeOffset(DateTimeOffset.UtcNow.AddHours(-1)) }, "before"),
            (new() { AppId = app, Page = new PageRequest { Limit = 1000 } }, "limit"),
            (new() { AppId = app, After = new Google.Protobuf.WellKnownTypes.Timestamp { Seconds = long.MaxValue } }, "after"),
            (new() { AppId = app, Before = new Google.Protobuf.WellKnownTypes.Timestamp { Nanos = -1 } }, "before"),
        })
        {
            var error = await Assert.ThrowsAsync<RpcException>(() => messages.SearchAttemptsAsync(request, auth).ResponseAsync);
            Assert.Equal(StatusCode.InvalidArgument, error.StatusCode);
            Assert.Contains(field, error.Status.Detail);
        }
    }

    [Fact]
    public async Task Another_applications_key_sees_none_of_the_attempts()
    {
        var (app, client, _, a, _, m1, _, _, all) = await SeedAsync();
        var other = await herald.Admin.CreateApplicationAsync("attempt-search-other");
        var otherKey = await herald.Admin.CreateApplicationKeyAsync(other);
        var intruder = herald.Client(otherKey);

        Assert.Equal(HttpStatusCode.NotFound, (await intruder.GetAsync($"/api/v1/apps/{app}/attempts")).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await intruder.GetAsync($"/api/v1/apps/{app}/attempts?endpointId={a}")).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await intruder.GetAsync($"/api/v1/apps/{app}/endpoints/{a}/attempts?status=failed")).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await intruder.GetAsync($"/api/v1/apps/{app}/messages/{m1}/attempts?status=failed")).Status);
        // Naming the first application's endpoint or message under its own application finds nothing of them.
        var (status, body, _) = await intruder.GetAsync($"/api/v1/apps/{other}/attempts?endpointId={a}");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Empty(Ids(body));
        (status, body, _) = await intruder.GetAsync($"/api/v1/apps/{other}/attempts?messageId={m1}");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Empty(Ids(body));
        Assert.Equal(HttpStatusCode.NotFound, (await intruder.GetAsync($"/api/v1/apps/{other}/endpoints/{a}/attempts")).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await intruder.GetAsync($"/api/v1/apps/{other}/messages/{m1}/attempts")).Status);

        var messages = new Herald.Grpc.V1.Messages.MessagesClient(herald.Grpc);
        var error = await Assert.ThrowsAsync<RpcException>(() => messages.SearchAttemptsAsync(
            new SearchAttemptsRequest { AppId = app }, HeraldAppFixture.Bearer(otherKey)).ResponseAsync);
        Assert.Equal(StatusCode.NotFound, error.StatusCode);

        // The owner still sees all of them.
        (status, body, _) = await client.GetAsync($"/api/v1/apps/{app}/attempts");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(Newest(all), Ids(body));
    }

    private static string[] Ids(JsonElement page) => [.. page.GetProperty("data").EnumerateArray().Select(a => a.GetProperty("id").GetString()!)];
}
