using System.Net;
using Herald.Tests.Harness;
using Xunit.Abstractions;

namespace Herald.Tests.Faults;

/// <summary>The API needs no Kafka to accept (its outbox keeps what it commits); one broker of three is not missed at all.</summary>
[Collection(HeraldAppCollection.Name)]
public sealed class KafkaOutageTests(HeraldAppFixture herald, ITestOutputHelper output)
{
    [Fact]
    public async Task Every_broker_down_neither_refuses_nor_slows_messages_and_all_arrive_once_it_is_back()
    {
        var faults = new FaultInjector(herald);
        // Inside the consumers' session (local mode: 6 s), as RelayTests explains; the fault matrix runs 20 s.
        var run = await FaultRun.RunAsync(herald, output, () => faults.BrokersDownAsync([.. Enumerable.Range(1, faults.Kafka.Brokers)], TimeSpan.FromSeconds(4)));

        Assert.All(run.Sent, sent => Assert.Equal(202, sent.Status));
        Assert.All(run.Sent, sent => Assert.True(sent.ServiceLatency < TimeSpan.FromSeconds(1),
            $"{sent.EventId} took {sent.Latency}, {sent.Stalled} of it while this test process was stalled."));
        Assert.True(run.ApiReadyThroughout, run.Describe());
        Assert.Contains(run.Readiness, r => r.Report!.Contains("\"status\":\"Degraded\"", StringComparison.Ordinal));
        Assert.Equal(0, run.Lost);
        Assert.Equal(0, run.Duplicated);
    }

    [Fact]
    public async Task One_broker_of_three_down_is_not_missed()
    {
        var faults = new FaultInjector(herald);
        var run = await FaultRun.RunAsync(herald, output, () => faults.BrokersDownAsync([2], TimeSpan.FromSeconds(10)));

        Assert.All(run.Sent, sent => Assert.Equal(202, sent.Status));
        Assert.True(run.ApiReadyThroughout, run.Describe());
        Assert.Equal(0, run.Lost);
        Assert.Equal(0, run.Duplicated);
    }
}
