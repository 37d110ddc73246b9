using System.Net;
using Herald.Tests.Harness;
using Xunit.Abstractions;

namespace Herald.Tests.Faults;

/// <summary>Redis holds only shared counters and notifications: frozen or gone, messages are accepted at their normal
/// latency, the API stays ready (Degraded), and every one is delivered once.</summary>
[Collection(HeraldAppCollection.Name)]
public sealed class RedisOutageTests(HeraldAppFixture herald, ITestOutputHelper output)
{
    [Fact]
    public async Task Redis_frozen_neither_refuses_nor_slows_messages_nor_loses_any()
    {
        var faults = new FaultInjector(herald);
        var run = await FaultRun.RunAsync(herald, output, () => FaultInjector.FreezeAsync([faults.RedisProcess()], TimeSpan.FromSeconds(8)));

        AssertServedThrough(run);
    }

    [Fact]
    public async Task Redis_killed_and_restarted_empty_neither_refuses_nor_slows_messages_nor_loses_any()
    {
        var faults = new FaultInjector(herald);
        var run = await FaultRun.RunAsync(herald, output, () => faults.KillAndRestartAsync("redis", [faults.RedisProcess()], TimeSpan.FromSeconds(5)));

        AssertServedThrough(run);
    }

    private static void AssertServedThrough(FaultRun run)
    {
        Assert.All(run.Sent, sent => Assert.Equal(202, sent.Status));
        // Normal latency: nothing waits on Redis longer than its 250 ms lease timeout, and only until it is known down.
        Assert.All(run.Sent, sent => Assert.True(sent.ServiceLatency < TimeSpan.FromSeconds(1),
            $"{sent.EventId} took {sent.Latency}, {sent.Stalled} of it while this test process was stalled."));
        Assert.True(run.ApiReadyThroughout, run.Describe());
        Assert.Contains(run.Readiness, r => r.Status == HttpStatusCode.OK && r.Report!.Contains("\"status\":\"Degraded\"", StringComparison.Ordinal));
        Assert.All(run.Readiness, r => Assert.True(r.Latency < TimeSpan.FromSeconds(1), $"readiness took {r.Latency}"));
        Assert.Equal(0, run.Lost);
        Assert.Equal(0, run.Duplicated);
        Assert.Equal(0, run.Late);
    }
}
