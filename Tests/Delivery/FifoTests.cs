using System.Collections.Concurrent;
using System.Net;
using System.Text.Json;
using Herald.Tests.Harness;
using Xunit.Abstractions;

namespace Herald.Tests.Delivery;

/// <summary>Per-endpoint FIFO (<c>ordering: "fifo"</c>): an endpoint receives its messages one at a time, in the order
/// they were accepted; a retrying head holds the line back (<c>blockedBy</c>) and nothing else.</summary>
[Collection(HeraldAppCollection.Name)]
public sealed class FifoTests(HeraldAppFixture herald, ITestOutputHelper output)
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);

    // Retries in a blink, so a test can afford hundreds of them; a stuck receiver is timed out after 1 s.
    private static readonly object FastRetries = new { delays = new[] { "50ms" }, maxAttempts = 12, timeout = "1s" };

    [Fact]
    public async Task Thousands_of_messages_arrive_in_accept_order_at_fifo_endpoints_while_the_receivers_fail_at_random()
    {
        const int Streams = 4, PerStream = 500, Endpoints = 2;
        var app = await herald.Admin.CreateApplicationAsync("fifo-load");
        var random = new Random(20261206);
        var injected = 0;
        var fifo = new List<(string Id, Uri Url)>();
        for (var i = 0; i < Endpoints; i++)
        {
            var url = herald.Receiver.UrlFor($"fifo-{Guid.NewGuid():N}");
            // 8 % of requests fail: 500s, and now and then a reply slower than the 1 s timeout (which the receiver still
            // processed: an at-least-once repeat of the head, never an earlier message).
            herald.Receiver.ReplyAt(url, _ =>
            {
                int roll;
                lock (random) roll = random.Next(100);
                if (roll >= 8) return Reply.Ok;
                Interlocked.Increment(ref injected);
                return roll == 0 ? new Reply(204, Delay: TimeSpan.FromMilliseconds(1500)) : new Reply(500);
            });
            fifo.Add((await CreateEndpointAsync(app, url, new { ordering = "fifo", retryPolicy = FastRetries }), url));
        }
        // A parallel endpoint beside them gets everything too, unhindered.
        var parallelUrl = herald.Receiver.UrlFor($"parallel-{Guid.NewGuid():N}");
        var parallel = await CreateEndpointAsync(app, parallelUrl, new { });

        // Each stream sends its messages one after another (each after the previous one was accepted), so within a
        // stream the accept order is the send order; the streams run side by side, so their messages interleave.
        var started = DateTime.UtcNow;
        await Task.WhenAll(Enumerable.Range(0, Streams).Select(stream => Task.Run(async () =>
        {
            // Each stream is a backend with its own key, and backs off when told to (the test app's limit is 300 per second).
            using var client = herald.Client(await herald.Admin.CreateApplicationKeyAsync(app));
            for (var seq = 0; seq < PerStream; seq++)
            {
                while (true)
                {
                    var (status, body, response) = await client.PostAsync($"/api/v1/apps/{app}/messages", new { eventType = "order.updated", payload = new { stream, seq } });
                    if (status == HttpStatusCode.Accepted) break;
                    Assert.True(status == HttpStatusCode.TooManyRequests, $"{(int)status} {body}");
                    await Task.Delay(response.Headers.RetryAfter?.Delta ?? TimeSpan.FromSeconds(1));
                }
            }
        })));
        var sent = DateTime.UtcNow - started;

        const int Total = Streams * PerStream;
        foreach (var (id, url) in fifo)
            Assert.True(await Eventually.HoldsAsync(async () => await CountAsync(id, "succeeded", "failed") == Total, TimeSpan.FromMinutes(5)),
                $"{id}: {await CountAsync(id, "succeeded", "failed")} of {Total} finished.");
        Assert.True(await Eventually.HoldsAsync(async () => await CountAsync(parallel, "succeeded", "failed") == Total, Patience));
        var drained = DateTime.UtcNow - started;

        var violations = 0;
        foreach (var (id, url) in fifo)
        {
            var received = herald.Receiver.ReceivedAt(url).Where(w => w.Status == 204).ToList();
            // Per stream, the sequence numbers of successful receipts never go back (a repeat of the one just
            // received is the at-least-once repeat of a timed-out head).
            var highest = new Dictionary<int, int>();
            foreach (var webhook in received)
            {
                using var body = JsonDocument.Parse(webhook.Body);
                var (stream, seq) = (body.RootElement.GetProperty("stream").GetInt32(), body.RootElement.GetProperty("seq").GetInt32());
                if (highest.TryGetValue(stream, out var last) && seq < last) violations++;
                highest[stream] = Math.Max(seq, highest.GetValueOrDefault(stream, -1));
            }
            var distinct = received.Select(w => w.MessageId).Distinct().Count();
            output.WriteLine($"{id}: {received.Count} successful receipts of {distinct} messages, " +
                             $"{herald.Receiver.ReceivedAt(url).Count} requests in all");
            Assert.Equal(Total, distinct);
            Assert.Equal(Total, await CountAsync(id, "succeeded"));
        }
        output.WriteLine($"{Total} messages × {Endpoints} FIFO endpoints: sent in {sent.TotalSeconds:0.0} s, all delivered after " +
                         $"{drained.TotalSeconds:0.0} s; failures injected: {injected}; order violations: {violations}");
        Assert.True(injected > 100, $"Only {injected} failures were injected.");
        Assert.Equal(0, violations);
        Assert.Equal(Total, herald.Receiver.ReceivedAt(parallelUrl).Select(w => w.MessageId).Distinct().Count());
    }

    [Fact]
    public async Task A_failing_head_blocks_its_line_and_shows_as_blocked_by_until_it_succeeds()
    {
        var app = await herald.Admin.CreateApplicationAsync("fifo-blocked");
        var url = herald.Receiver.UrlFor($"fifo-{Guid.NewGuid():N}");
        var failing = true;
        herald.Receiver.ReplyAt(url, _ => Volatile.Read(ref failing) ? new Reply(503) : Reply.Ok);
        var endpoint = await CreateEndpointAsync(app, url, new { ordering = "fifo", retryPolicy = new { delays = new[] { "300ms" }, maxAttempts = 50 } });

        var first = await herald.Admin.SendMessageAsync(app, "order.updated", new { n = 1 });
        var rest = new List<string>();
        for (var n = 2; n <= 5; n++) rest.Add(await herald.Admin.SendMessageAsync(app, "order.updated", new { n }));

        await herald.Receiver.WaitForRequestsAsync(url, 3, Patience);
        var blocked = await herald.Admin.GetAsync($"/api/v1/apps/{app}/endpoints/{endpoint}");
        output.WriteLine(blocked.Body.ToString());
        var blockedBy = blocked.Body.GetProperty("blockedBy");
        Assert.Equal(first, blockedBy.GetProperty("messageId").GetString());
        Assert.Equal("pending", blockedBy.GetProperty("status").GetString());
        Assert.True(blockedBy.GetProperty("attempts").GetInt32() >= 2);
        Assert.Equal("HTTP 503", blockedBy.GetProperty("lastError").GetString());
        // Only the head was ever tried; the others wait in line, queued.
        Assert.All(herald.Receiver.ReceivedAt(url), w => Assert.Equal(first, w.MessageId));
        foreach (var id in rest) Assert.Equal("queued", (await herald.ReadAsync(id, endpoint))?.Status);
        var queued = await herald.Admin.GetAsync($"/api/v1/apps/{app}/messages?status=queued");
        Assert.Equal(rest.AsEnumerable().Reverse(), queued.Body.GetProperty("data").EnumerateArray().Select(m => m.GetProperty("id").GetString()));

        Volatile.Write(ref failing, false);
        Assert.True(await Eventually.HoldsAsync(async () => await CountAsync(endpoint, "succeeded") == 5, Patience));
        var delivered = herald.Receiver.ReceivedAt(url).Where(w => w.Status == 204).Select(w => w.MessageId).ToList();
        Assert.Equal([first, .. rest], delivered);
        var after = await herald.Admin.GetAsync($"/api/v1/apps/{app}/endpoints/{endpoint}");
        Assert.False(after.Body.TryGetProperty("blockedBy", out var none) && none.ValueKind != JsonValueKind.Null, after.Body.ToString());
    }

    [Fact]
    public async Task A_dead_lettered_head_lets_the_line_move_on_and_a_replay_joins_the_end_of_the_line()
    {
        var app = await herald.Admin.CreateApplicationAsync("fifo-replay");
        var url = herald.Receiver.UrlFor($"fifo-{Guid.NewGuid():N}");
        var refuse = new ConcurrentDictionary<string, bool>();
        herald.Receiver.ReplyAt(url, w => refuse.ContainsKey(w.MessageId!) ? new Reply(500) : Reply.Ok);
        var endpoint = await CreateEndpointAsync(app, url, new { ordering = "fifo", retryPolicy = new { delays = new[] { "100ms" }, maxAttempts = 2 } });

        var a = await herald.Admin.SendMessageAsync(app, "order.updated", new { n = "a" });
        refuse[a] = true;
        var b = await herald.Admin.SendMessageAsync(app, "order.updated", new { n = "b" });
        var c = await herald.Admin.SendMessageAsync(app, "order.updated", new { n = "c" });
        Assert.True(await Eventually.HoldsAsync(async () => await CountAsync(endpoint, "succeeded", "failed") == 3, Patience));
        Assert.Equal("failed", (await herald.ReadAsync(a, endpoint))?.Status);

        // The receiver accepts a now; a replay of it goes behind what is waiting: d, sent while the head (e) is retried.
        refuse.Clear();
        var e = await herald.Admin.SendMessageAsync(app, "order.updated", new { n = "e" });
        await herald.WaitForAsync(e, endpoint, r => r.Status == "succeeded", Patience);
        var resend = await herald.Admin.PostAsync($"/api/v1/apps/{app}/messages/{a}/endpoints/{endpoint}/resend", null);
        Assert.Equal(HttpStatusCode.Accepted, resend.Status);
        Assert.Equal("queued", resend.Body.GetProperty("status").GetString());
        var f = await herald.Admin.SendMessageAsync(app, "order.updated", new { n = "f" });
        Assert.True(await Eventually.HoldsAsync(async () => await CountAsync(endpoint, "succeeded") == 5, Patience));

        var delivered = herald.Receiver.ReceivedAt(url).Where(w => w.Status == 204).Select(w => w.MessageId).ToList();
        Assert.Equal([b, c, e, a, f], delivered);
    }

    [Fact]
    public async Task Leaving_fifo_releases_the_line_at_once()
    {
        var app = await herald.Admin.CreateApplicationAsync("fifo-release");
        var url = herald.Receiver.UrlFor($"fifo-{Guid.NewGuid():N}");
        var head = "";
        herald.Receiver.ReplyAt(url, w => w.MessageId == Volatile.Read(ref head) ? new Reply(500) : Reply.Ok);
        var endpoint = await CreateEndpointAsync(app, url, new { ordering = "fifo", retryPolicy = new { delays = new[] { "1s" }, maxAttempts = 50 } });
        Volatile.Write(ref head, await herald.Admin.SendMessageAsync(app, "order.updated", new { n = 0 }));
        var waiting = new List<string>();
        for (var n = 1; n <= 3; n++) waiting.Add(await herald.Admin.SendMessageAsync(app, "order.updated", new { n }));
        await herald.Receiver.WaitForRequestsAsync(url, 2, Patience);
        Assert.DoesNotContain(herald.Receiver.ReceivedAt(url), w => w.Status == 204);

        var update = await herald.Admin.PutAsync($"/api/v1/apps/{app}/endpoints/{endpoint}", new { url, ordering = "parallel" });
        Assert.Equal(HttpStatusCode.OK, update.Status);
        Assert.Equal("parallel", update.Body.GetProperty("ordering").GetString());
        foreach (var id in waiting) await herald.Receiver.WaitForAsync(id, Patience, url.AbsolutePath);
        Assert.Equal("pending", (await herald.ReadAsync(Volatile.Read(ref head), endpoint))?.Status);
    }

    [Theory]
    [InlineData("""{"url":"https://example.com/h","ordering":"lifo"}""", "ordering")]
    [InlineData("""{"url":"https://example.com/h","ordering":"FIFO"}""", "ordering")]
    public async Task An_unknown_ordering_is_refused(string body, string field)
    {
        var app = await herald.Admin.CreateApplicationAsync();
        using var content = new StringContent(body, System.Text.Encoding.UTF8, "application/json");
        using var response = await herald.Admin.Http.PostAsync($"/api/v1/apps/{app}/endpoints", content);
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        using var problem = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.True(problem.RootElement.GetProperty("errors").TryGetProperty(field, out _), problem.RootElement.ToString());
    }

    private async Task<string> CreateEndpointAsync(string app, Uri url, object settings)
    {
        var body = JsonSerializer.SerializeToElement(settings, new JsonSerializerOptions(JsonSerializerDefaults.Web));
        var fields = body.EnumerateObject().ToDictionary(p => p.Name, p => (object?)p.Value);
        fields["url"] = url;
        var endpoint = await herald.Admin.PostOkAsync($"/api/v1/apps/{app}/endpoints", fields);
        return endpoint.GetProperty("id").GetString()!;
    }

    private async Task<int> CountAsync(string endpointId, params string[] statuses)
    {
        await using var connection = await herald.OpenDatabaseAsync();
        await using var query = new Npgsql.NpgsqlCommand("SELECT count(*) FROM deliveries WHERE endpoint_id = $1 AND status = ANY($2)", connection);
        query.Parameters.Add(new() { Value = endpointId });
        query.Parameters.Add(new() { Value = statuses });
        return (int)(long)(await query.ExecuteScalarAsync())!;
    }

}
