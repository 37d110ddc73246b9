using System.Diagnostics;
using Aspire.Hosting.ApplicationModel;
using Herald.Bench.Faults.Injectors;
using Herald.Tests.Harness;
using Xunit.Abstractions;

namespace Herald.Tests.Faults;

/// <summary>A Processor replica frozen past its consumer session (the zombie that wakes up owning nothing) and one
/// stopped gracefully mid-stream: nothing lost, and no attempt its peer has recorded or is making sent again.</summary>
[Collection(HeraldAppCollection.Name)]
public sealed class ProcessorFaultTests(HeraldAppFixture herald, ITestOutputHelper output)
{
    [Fact]
    public async Task A_processor_frozen_past_its_session_loses_nothing_and_sends_nothing_twice_when_it_wakes()
    {
        var (_, pid) = (await herald.ProcessorInstancesAsync()).First();
        // Past the consumers' session (local mode 6 s) and a rebalance: its peer takes its partitions meanwhile.
        var run = await FaultRun.RunAsync(herald, output, () => FaultInjector.FreezeAsync([pid], TimeSpan.FromSeconds(15)),
            after: TimeSpan.FromSeconds(5));

        Assert.All(run.Sent, sent => Assert.Equal(202, sent.Status));
        Assert.Equal(0, run.Lost);
        // Only a send already on the wire when the process froze can be made twice.
        Assert.InRange(run.Duplicated, 0, Math.Max(1, run.Accepted.Count / 100));
        await herald.ProcessorInstancesAsync();
    }

    [Fact]
    public async Task A_processor_stopped_gracefully_mid_stream_finishes_what_it_sends_and_its_peer_the_rest()
    {
        var (instance, pid) = (await herald.ProcessorInstancesAsync()).First();
        var run = await FaultRun.RunAsync(herald, output, async () =>
        {
            Signals.Send(pid, Signal.Terminate);
            using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(1));
            var exited = await herald.App.ResourceNotifications.WaitForResourceAsync("processor",
                e => e.ResourceId == instance && KnownResourceStates.TerminalStates.Contains(e.Snapshot.State?.Text), timeout.Token);
            Assert.Equal(0, exited.Snapshot.ExitCode);
            // A rolling restart: the replica comes back.
            await herald.App.ResourceCommands.ExecuteCommandAsync(instance, KnownResourceCommands.StartCommand, timeout.Token);
        });

        Assert.All(run.Sent, sent => Assert.Equal(202, sent.Status));
        Assert.Equal(0, run.Lost);
        Assert.Equal(0, run.Duplicated);
        await herald.ProcessorInstancesAsync();
    }
}
