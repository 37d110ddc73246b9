using System.Diagnostics;
using Aspire.Hosting.Testing;
using Herald.Tests.Harness;
using StackExchange.Redis;
using Xunit.Abstractions;

namespace Herald.Tests.Delivery;

/// <summary>One broken customer endpoint must not slow down anyone else, and its breaker must open and close.</summary>
[Collection(HeraldAppCollection.Name)]
public sealed class IsolationTests(HeraldAppFixture herald, ITestOutputHelper output)
{
    [Fact]
    public async Task A_slow_failing_endpoint_does_not_hold_up_a_healthy_one_and_its_breaker_opens_and_closes()
    {
        var app = await herald.Admin.CreateApplicationAsync();
        var healthy = herald.Receiver.UrlFor("healthy-" + Guid.NewGuid().ToString("N"));
        var failing = herald.Receiver.UrlFor("failing-" + Guid.NewGuid().ToString("N"));
        var broken = true;
        // Every answer takes 2 s and is a 500, until the endpoint recovers.
        herald.Receiver.ReplyAt(failing, _ => Volatile.Read(ref broken) ? new Reply(500, Delay: TimeSpan.FromSeconds(2)) : Reply.Ok);
        await herald.Admin.CreateEndpointAsync(app, healthy);
        var (failingId, _) = await herald.Admin.CreateEndpointAsync(app, failing);

        // 40 messages, both endpoints subscribed to each.
        var sent = new List<(string Id, Stopwatch Clock)>();
        for (var i = 0; i < 40; i++)
        {
            var clock = Stopwatch.StartNew();
            sent.Add((await herald.Admin.SendMessageAsync(app, "order.created", new { i }), clock));
        }
        var latencies = new List<TimeSpan>();
        foreach (var (id, clock) in sent)
        {
            await herald.Receiver.WaitForAsync(id, TimeSpan.FromSeconds(30), healthy.AbsolutePath);
            latencies.Add(clock.Elapsed);
        }
        var failedSoFar = herald.Receiver.ReceivedAt(failing).Count(r => r.Status == 500);
        latencies.Sort();
        output.WriteLine($"healthy endpoint, 202 → arrival: p50 {latencies[latencies.Count / 2].TotalMilliseconds:0} ms, " +
                         $"max {latencies[^1].TotalMilliseconds:0} ms; failing endpoint had answered {failedSoFar} requests (2 s each) by then");

        // Every healthy delivery landed while the failing endpoint was still failing, each far sooner than one of its
        // 2-second answers times the queue it would have formed.
        Assert.True(latencies[^1] < TimeSpan.FromSeconds(10), $"Slowest healthy delivery took {latencies[^1]}.");
        Assert.All(sent, m => Assert.DoesNotContain(herald.Receiver.ReceivedAt(failing), r => r.MessageId == m.Id && r.Status == 204));

        // ≥ 10 attempts, all failed, within the 30 s window: the breaker opens, and attempts stop while it is open.
        var redis = await ConnectionMultiplexer.ConnectAsync((await herald.App.GetConnectionStringAsync("redis"))!);
        var breaker = (RedisKey)$"herald:endpoint:{{{failingId}}}:breaker";
        var opened = await WaitUntilAsync(async () => (string?)await redis.GetDatabase().HashGetAsync(breaker, "state") == "open", TimeSpan.FromSeconds(60));
        Assert.True(opened, "The failing endpoint's breaker never opened.");
        var attemptsWhenOpened = herald.Receiver.ReceivedAt(failing).Count;
        output.WriteLine($"breaker opened after {attemptsWhenOpened} requests to the failing endpoint");

        // It recovers: the next half-open probe succeeds and closes the breaker; deferred deliveries then arrive.
        Volatile.Write(ref broken, false);
        var closed = await WaitUntilAsync(async () => !await redis.GetDatabase().KeyExistsAsync(breaker), TimeSpan.FromSeconds(60));
        Assert.True(closed, "The breaker never closed after the endpoint recovered.");
        var after = await herald.Admin.SendMessageAsync(app, "order.created", new { after = true });
        await herald.Receiver.WaitForAsync(after, TimeSpan.FromSeconds(30), failing.AbsolutePath);
        await redis.DisposeAsync();
    }

    private static async Task<bool> WaitUntilAsync(Func<Task<bool>> condition, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < deadline)
        {
            if (await condition()) return true;
            await Task.Delay(100);
        }
        return false;
    }
}
