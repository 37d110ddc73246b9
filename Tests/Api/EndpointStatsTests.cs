using Aspire.Hosting.Testing;
using System.Collections.Concurrent;
using System.Net;
using System.Text.Json;
using Grpc.Core;
using Google.Protobuf.WellKnownTypes;
using Herald.Grpc.V1;
using Herald.Messages;
using Herald.Tests.Harness;
using Npgsql;
using NpgsqlTypes;

namespace Herald.Tests.Api;

/// <summary>An endpoint's statistics (REST and gRPC): figures from real deliveries to a receiver that fails some of them,
/// exact percentiles and windows over seeded attempts, tenant isolation and bad windows.</summary>
[Collection(HeraldAppCollection.Name)]
public sealed class EndpointStatsTests(HeraldAppFixture herald)
{
    private static readonly TimeSpan SettleTimeout = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task Stats_of_real_deliveries_match_what_the_receiver_answered_and_the_attempts_recorded()
    {
        var app = await herald.Admin.CreateApplicationAsync("stats-live");
        var key = await herald.Admin.CreateApplicationKeyAsync(app);
        var client = herald.Client(key);
        var url = herald.Receiver.UrlFor(Guid.NewGuid().ToString("N"));
        // ok: 204 at once; flaky: 500 the first time, then 204; bad: 400 every time (dead-lettered after the schedule).
        var seen = new ConcurrentDictionary<string, int>();
        herald.Receiver.ReplyAt(url, webhook =>
        {
            using var payload = JsonDocument.Parse(webhook.Body);
            var kind = payload.RootElement.GetProperty("kind").GetString();
            var times = seen.AddOrUpdate(webhook.MessageId!, 1, (_, n) => n + 1);
            var delay = TimeSpan.FromMilliseconds(payload.RootElement.GetProperty("delayMs").GetInt32());
            return kind switch
            {
                "flaky" when times == 1 => new Reply(500, delay),
                "bad" => new Reply(400, delay),
                _ => new Reply(204, delay),
            };
        });
        var (endpoint, _) = await client.CreateEndpointAsync(app, url, ["stats.test"]);
        var kinds = new[] { "ok", "ok", "ok", "ok", "ok", "ok", "ok", "ok", "flaky", "flaky", "flaky", "bad" };
        var messages = new List<string>();
        for (var i = 0; i < kinds.Length; i++)
            messages.Add(await client.SendMessageAsync(app, "stats.test", new { kind = kinds[i], delayMs = 10 * i }));

        // Every delivery settles: succeeded, or failed once the schedule is exhausted.
        foreach (var message in messages)
        {
            Assert.True(await Eventually.HoldsAsync(async () =>
            {
                var (_, deliveries, _) = await client.GetAsync($"/api/v1/apps/{app}/messages/{message}/deliveries");
                return deliveries.GetProperty("data").EnumerateArray().Any(d => d.GetProperty("status").GetString() is "succeeded" or "failed");
            }, SettleTimeout), $"{message} did not settle");
        }
        var received = herald.Receiver.ReceivedAt(url);
        var (_, list, _) = await client.GetAsync($"/api/v1/apps/{app}/endpoints/{endpoint}/attempts?limit=250");
        var attempts = list.GetProperty("data").EnumerateArray().ToList();
        Assert.Equal(received.Count, attempts.Count);

        var (status, stats, _) = await client.GetAsync($"/api/v1/apps/{app}/endpoints/{endpoint}/stats");
        Assert.True(status == HttpStatusCode.OK, $"{(int)status} {stats}");
        var failures = received.Where(w => w.Status >= 300).ToList();
        Assert.Equal(endpoint, stats.GetProperty("endpointId").GetString());
        Assert.Equal(received.Count, stats.GetProperty("attempts").GetInt64());
        Assert.Equal(received.Count - failures.Count, stats.GetProperty("succeeded").GetInt64());
        Assert.Equal(failures.Count, stats.GetProperty("failed").GetInt64());
        Assert.True(failures.Count >= 3 + 2, $"{failures.Count} failures: 3 flaky firsts and the bad one's attempts");
        Assert.Equal((double)(received.Count - failures.Count) / received.Count, stats.GetProperty("successRate").GetDouble(), 9);
        var classes = stats.GetProperty("statusClasses");
        Assert.Equal(received.Count(w => w.Status is >= 200 and < 300), classes.GetProperty("2xx").GetInt64());
        Assert.Equal(0, classes.GetProperty("3xx").GetInt64());
        Assert.Equal(received.Count(w => w.Status == 400), classes.GetProperty("4xx").GetInt64());
        Assert.Equal(received.Count(w => w.Status >= 500), classes.GetProperty("5xx").GetInt64());
        Assert.Equal(0, classes.GetProperty("none").GetInt64());
        var top = stats.GetProperty("topErrors").EnumerateArray().Select(e => (e.GetProperty("error").GetString()!, e.GetProperty("count").GetInt64())).ToList();
        var expectedTop = failures.GroupBy(w => $"HTTP {w.Status}").Select(g => (g.Key, (long)g.Count()))
            .OrderByDescending(e => e.Item2).ThenBy(e => e.Key, StringComparer.Ordinal).ToList();
        Assert.Equal(expectedTop, top);

        // The percentiles are PostgreSQL's percentile_cont over the recorded latencies: the same as computed here.
        var latencies = attempts.Select(a => (double)a.GetProperty("latencyMs").GetInt32()).ToArray();
        var latency = stats.GetProperty("latencyMs");
        Assert.Equal(PercentileCont(latencies, 0.5), latency.GetProperty("p50").GetDouble(), 6);
        Assert.Equal(PercentileCont(latencies, 0.95), latency.GetProperty("p95").GetDouble(), 6);
        Assert.Equal(PercentileCont(latencies, 0.99), latency.GetProperty("p99").GetDouble(), 6);
        Assert.True(latency.GetProperty("p99").GetDouble() >= 10 * (kinds.Length - 1), "the slowest reply waited 110 ms");

        // gRPC gives the same figures.
        var grpc = await new Herald.Grpc.V1.Endpoints.EndpointsClient(herald.Grpc).GetStatsAsync(
            new EndpointStatsRequest { AppId = app, EndpointId = endpoint }, HeraldAppFixture.Bearer(key));
        Assert.Equal(received.Count, grpc.Attempts);
        Assert.Equal(failures.Count, grpc.Failed);
        Assert.Equal(stats.GetProperty("successRate").GetDouble(), grpc.SuccessRate, 9);
        Assert.Equal(latency.GetProperty("p95").GetDouble(), grpc.LatencyP95Ms, 6);
        Assert.Equal(classes.GetProperty("5xx").GetInt64(), grpc.StatusClasses["5xx"]);
        Assert.Equal(expectedTop, grpc.TopErrors.Select(e => (e.Error, e.Count)).ToList());
    }

    [Fact]
    public async Task Seeded_attempts_give_exact_percentiles_classes_and_errors_within_the_window_only()
    {
        var app = await herald.Admin.CreateApplicationAsync("stats-seeded");
        var key = await herald.Admin.CreateApplicationKeyAsync(app);
        var client = herald.Client(key);
        var (endpoint, _) = await client.CreateEndpointAsync(app, new Uri("https://example.com/stats"), ["never.sent"]);
        var (otherEndpoint, _) = await client.CreateEndpointAsync(app, new Uri("https://example.com/other"), ["never.sent"]);
        var message = await client.SendMessageAsync(app, "invoice.paid", new { n = 1 });
        await DeliveriesApiTests.SeedAsync(herald, message, endpoint, app, "failed", DateTimeOffset.UtcNow, attempts: 1, lastError: null);
        await DeliveriesApiTests.SeedAsync(herald, message, otherEndpoint, app, "failed", DateTimeOffset.UtcNow, attempts: 1, lastError: null);

        // Ten attempts in the window, latencies 10…100 ms: 4 × 200, 1 × 302, 2 × 503, 1 × 500, 2 × timeout.
        var since = new DateTimeOffset(DateTimeOffset.UtcNow.AddHours(-3).UtcTicks / TimeSpan.TicksPerSecond * TimeSpan.TicksPerSecond, TimeSpan.Zero);
        var until = since.AddHours(1);
        (int? Http, string? Error)[] outcomes = [(200, null), (200, null), (200, null), (200, null), (302, null), (503, null), (503, null), (500, null), (null, "timeout"), (null, "timeout")];
        await using (var database = await herald.OpenDatabaseAsync())
        {
            for (var i = 0; i < outcomes.Length; i++)
                await InsertAsync(database, app, message, endpoint, outcomes[i].Http, outcomes[i].Error, 10 * (i + 1), since.AddMinutes(i));
            // Outside the window (at its end, which is exclusive, and a day before) or another endpoint's: not counted.
            await InsertAsync(database, app, message, endpoint, 500, null, 5000, until);
            await InsertAsync(database, app, message, endpoint, null, "dns", 5000, since.AddDays(-1));
            await InsertAsync(database, app, message, otherEndpoint, null, "dns", 5000, since.AddMinutes(5));
        }

        var (status, stats, _) = await client.GetAsync(
            $"/api/v1/apps/{app}/endpoints/{endpoint}/stats?since={Uri.EscapeDataString(since.ToString("O"))}&until={Uri.EscapeDataString(until.ToString("O"))}");
        Assert.True(status == HttpStatusCode.OK, $"{(int)status} {stats}");
        Assert.Equal(since, stats.GetProperty("since").GetDateTimeOffset());
        Assert.Equal(until, stats.GetProperty("until").GetDateTimeOffset());
        Assert.Equal(10, stats.GetProperty("attempts").GetInt64());
        Assert.Equal(4, stats.GetProperty("succeeded").GetInt64());
        Assert.Equal(6, stats.GetProperty("failed").GetInt64());
        Assert.Equal(0.4, stats.GetProperty("successRate").GetDouble(), 9);
        var latency = stats.GetProperty("latencyMs");
        Assert.Equal(55, latency.GetProperty("p50").GetDouble(), 9);
        Assert.Equal(95.5, latency.GetProperty("p95").GetDouble(), 9);
        Assert.Equal(99.1, latency.GetProperty("p99").GetDouble(), 9);
        var classes = stats.GetProperty("statusClasses");
        Assert.Equal([4L, 1L, 0L, 3L, 2L], new[] { "2xx", "3xx", "4xx", "5xx", "none" }.Select(c => classes.GetProperty(c).GetInt64()));
        var top = stats.GetProperty("topErrors").EnumerateArray().Select(e => (e.GetProperty("error").GetString()!, e.GetProperty("count").GetInt64()));
        // Ties in count are ordered by the error text.
        Assert.Equal([("HTTP 503", 2L), ("timeout", 2L), ("HTTP 302", 1L), ("HTTP 500", 1L)], top);

        // Since only: until is now, so the attempt at the old window's end counts too (the day-old one does not).
        (_, stats, _) = await client.GetAsync($"/api/v1/apps/{app}/endpoints/{endpoint}/stats?since={Uri.EscapeDataString(since.ToString("O"))}");
        Assert.Equal(11, stats.GetProperty("attempts").GetInt64());
        // The default window is the last 24 hours: the same 11.
        (_, stats, _) = await client.GetAsync($"/api/v1/apps/{app}/endpoints/{endpoint}/stats");
        Assert.Equal(11, stats.GetProperty("attempts").GetInt64());
        Assert.InRange(stats.GetProperty("until").GetDateTimeOffset() - stats.GetProperty("since").GetDateTimeOffset(), TimeSpan.FromHours(24), TimeSpan.FromHours(24));

        // A window without attempts: zero counts, and no rate or percentiles rather than made-up ones.
        (_, stats, _) = await client.GetAsync($"/api/v1/apps/{app}/endpoints/{endpoint}/stats?until={Uri.EscapeDataString(since.AddDays(-2).ToString("O"))}");
        Assert.Equal(0, stats.GetProperty("attempts").GetInt64());
        Assert.Equal(JsonValueKind.Null, stats.GetProperty("successRate").ValueKind);
        Assert.Equal(JsonValueKind.Null, stats.GetProperty("latencyMs").ValueKind);
        Assert.Empty(stats.GetProperty("topErrors").EnumerateArray());
        var empty = await new Herald.Grpc.V1.Endpoints.EndpointsClient(herald.Grpc).GetStatsAsync(new EndpointStatsRequest
        {
            AppId = app, EndpointId = endpoint, Until = Timestamp.FromDateTimeOffset(since.AddDays(-2)),
        }, HeraldAppFixture.Bearer(key));
        Assert.Equal(0, empty.Attempts);
        Assert.False(empty.HasSuccessRate);
        Assert.False(empty.HasLatencyP50Ms);
    }

    [Theory]
    [InlineData("since=soon", "since")]
    [InlineData("until=2026-02-30T00:00:00Z", "until")]
    [InlineData("since=2026-11-02T00:00:00Z&until=2026-11-01T00:00:00Z", "until")]
    [InlineData("since=2026-11-01T00:00:00Z&until=2026-11-01T00:00:00Z", "until")]
    [InlineData("since=2026-10-01T00:00:00Z&until=2026-11-02T00:00:00Z", "since")]
    [InlineData("since=2000-01-01T00:00:00Z", "since")]
    [InlineData("since=9999-12-31T00:00:00Z", "since")]
    [InlineData("until=0001-01-01T00:00:00Z", "until")]
    public async Task Bad_windows_are_400_problems_naming_the_parameter(string query, string field)
    {
        var app = await herald.Admin.CreateApplicationAsync("stats-bad");
        var (endpoint, _) = await herald.Admin.CreateEndpointAsync(app, new Uri("https://example.com/stats"), ["never.sent"]);
        var (status, problem, response) = await herald.Admin.GetAsync($"/api/v1/apps/{app}/endpoints/{endpoint}/stats?{query}");
        Assert.True(status == HttpStatusCode.BadRequest, $"{query}: {(int)status} {problem}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.True(problem.GetProperty("errors").TryGetProperty(field, out _), problem.ToString());

        var error = await Assert.ThrowsAsync<RpcException>(() => new Herald.Grpc.V1.Endpoints.EndpointsClient(herald.Grpc).GetStatsAsync(new EndpointStatsRequest
        {
            AppId = app, EndpointId = endpoint, Since = Timestamp.FromDateTimeOffset(DateTimeOffset.UtcNow.AddDays(-40)),
        }, HeraldAppFixture.Bearer(herald.AdminKey)).ResponseAsync);
        Assert.Equal(StatusCode.InvalidArgument, error.StatusCode);
        Assert.Contains("since", error.Status.Detail);
        error = await Assert.ThrowsAsync<RpcException>(() => new Herald.Grpc.V1.Endpoints.EndpointsClient(herald.Grpc).GetStatsAsync(new EndpointStatsRequest
        {
            AppId = app, EndpointId = endpoint, Until = new Timestamp { Seconds = long.MinValue },
        }, HeraldAppFixture.Bearer(herald.AdminKey)).ResponseAsync);
        Assert.Equal(StatusCode.InvalidArgument, error.StatusCode);
        Assert.Contains("until", error.Status.Detail);
    }

    [Fact]
    public async Task Another_applications_key_gets_404_and_unknown_endpoints_are_404()
    {
        var app = await herald.Admin.CreateApplicationAsync("stats-owner");
        var (endpoint, _) = await herald.Admin.CreateEndpointAsync(app, new Uri("https://example.com/stats"), ["never.sent"]);
        var other = await herald.Admin.CreateApplicationAsync("stats-intruder");
        var otherKey = await herald.Admin.CreateApplicationKeyAsync(other);
        var intruder = herald.Client(otherKey);

        Assert.Equal(HttpStatusCode.OK, (await herald.Admin.GetAsync($"/api/v1/apps/{app}/endpoints/{endpoint}/stats")).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await intruder.GetAsync($"/api/v1/apps/{app}/endpoints/{endpoint}/stats")).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await intruder.GetAsync($"/api/v1/apps/{other}/endpoints/{endpoint}/stats")).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await herald.Admin.GetAsync($"/api/v1/apps/{app}/endpoints/ep_unknown/stats")).Status);

        var endpoints = new Herald.Grpc.V1.Endpoints.EndpointsClient(herald.Grpc);
        foreach (var request in new[] { new EndpointStatsRequest { AppId = app, EndpointId = endpoint }, new EndpointStatsRequest { AppId = other, EndpointId = endpoint } })
        {
            var error = await Assert.ThrowsAsync<RpcException>(() => endpoints.GetStatsAsync(request, HeraldAppFixture.Bearer(otherKey)).ResponseAsync);
            Assert.Equal(StatusCode.NotFound, error.StatusCode);
        }
    }

    [Fact]
    public async Task The_generated_client_and_the_portal_show_the_statistics()
    {
        var app = await herald.Admin.CreateApplicationAsync("stats-client");
        var key = await herald.Admin.CreateApplicationKeyAsync(app);
        var (endpoint, _) = await herald.Admin.CreateEndpointAsync(app, new Uri("https://example.com/stats"), ["never.sent"]);
        var message = await herald.Admin.SendMessageAsync(app, "invoice.paid", new { n = 1 });
        await DeliveriesApiTests.SeedAsync(herald, message, endpoint, app, "failed", DateTimeOffset.UtcNow, attempts: 2, lastError: "timeout");
        var at = DateTimeOffset.UtcNow.AddMinutes(-10);
        await using (var database = await herald.OpenDatabaseAsync())
        {
            await InsertAsync(database, app, message, endpoint, 200, null, 40, at);
            await InsertAsync(database, app, message, endpoint, null, "timeout", 15000, at.AddMinutes(1));
        }

        var api = Herald.Client.HeraldClient.Create(herald.App.GetEndpoint("api", "http"), key);
        var stats = (await api.Api.V1.Apps[app].Endpoints[endpoint].Stats.GetAsync(r => r.QueryParameters.Since = at.AddHours(-1)))!;
        Assert.Equal(2, stats.Attempts);
        Assert.Equal(1, stats.Failed);
        Assert.Equal(0.5, stats.SuccessRate);
        Assert.Equal(40 + (15000 - 40) * 0.5, stats.LatencyMs!.P50);
        Assert.Equal(["2xx", "3xx", "4xx", "5xx", "none"], stats.StatusClasses!.AdditionalData.Keys.Order(StringComparer.Ordinal));
        Assert.Equal(1, Count(stats.StatusClasses.AdditionalData["none"]));
        Assert.Equal(1, Count(stats.StatusClasses.AdditionalData["2xx"]));
        var error = Assert.Single(stats.TopErrors!);
        Assert.Equal("timeout", error.Error);
        Assert.Equal(1, error.Count);

        var page = (await api.Api.V1.Apps[app].Attempts.GetAsync(r =>
        {
            r.QueryParameters.StatusClass = "none";
            r.QueryParameters.EndpointId = endpoint;
            r.QueryParameters.After = at;
        }))!;
        var attempt = Assert.Single(page.Data!);
        Assert.Equal("timeout", attempt.Error);
        Assert.True(page.Done);

        // The portal's endpoint page shows the last 24 hours.
        var (_, link, _) = await herald.Admin.PostAsync($"/api/v1/apps/{app}/portal-access", new { });
        var (session, _) = await PortalSession.StartAsync(herald.App.GetEndpoint("api", "http"), link.GetProperty("token").GetString()!);
        using (session)
        {
            var (status, html, _) = await session.GetAsync($"/portal/endpoints/{endpoint}");
            Assert.Equal(HttpStatusCode.OK, status);
            Assert.Contains("Last 24 hours", html);
            Assert.Contains("2 (1 succeeded, 1 failed)", html);
            Assert.Contains("p50 7520 ms", html);
            Assert.Contains("timeout", html);
        }
    }

    private static long Count(object value) => value switch
    {
        Microsoft.Kiota.Abstractions.Serialization.UntypedInteger number => number.GetValue(),
        Microsoft.Kiota.Abstractions.Serialization.UntypedLong number => number.GetValue(),
        // Kiota's JSON reader keeps a plain number for a map's values.
        IConvertible number => Convert.ToInt64(number, System.Globalization.CultureInfo.InvariantCulture),
        _ => throw new Xunit.Sdk.XunitException($"Not a count: {value}"),
    };

    private static async Task InsertAsync(NpgsqlConnection database, string app, string message, string endpoint, int? http, string? error, int latencyMs, DateTimeOffset at)
    {
        await using var insert = new NpgsqlCommand("""
            INSERT INTO delivery_attempts (id, application_id, message_id, endpoint_id, status, http_status, latency_ms, error, attempted_at)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
            """, database);
        insert.Parameters.Add(new() { Value = SortableId.New("atmpt", at) });
        insert.Parameters.Add(new() { Value = app });
        insert.Parameters.Add(new() { Value = message });
        insert.Parameters.Add(new() { Value = endpoint });
        insert.Parameters.Add(new() { Value = http is >= 200 and < 300 ? "succeeded" : "failed" });
        insert.Parameters.Add(new() { Value = (object?)http ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Integer });
        insert.Parameters.Add(new() { Value = latencyMs });
        insert.Parameters.Add(new() { Value = (object?)error ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text });
        insert.Parameters.Add(new() { Value = at });
        await insert.ExecuteNonQueryAsync();
    }

    /// <summary>PostgreSQL's percentile_cont: linear interpolation between the closest ranks.</summary>
    private static double PercentileCont(double[] values, double fraction)
    {
        var sorted = values.Order().ToArray();
        var position = fraction * (sorted.Length - 1);
        var lower = (int)Math.Floor(position);
        var upper = (int)Math.Ceiling(position);
        return sorted[lower] + (sorted[upper] - sorted[lower]) * (position - lower);
    }
}
