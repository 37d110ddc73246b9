using System.Text.Json;
using Aspire.Hosting.ApplicationModel;
using Herald.Bench.Faults.Injectors;
using Herald.Tests.Delivery;
using Herald.Tests.Harness;
using Xunit.Abstractions;

namespace Herald.Tests.Faults;

/// <summary>FIFO order is kept in PostgreSQL, not in a Processor's memory or a Kafka partition: it holds while one
/// Processor replica is killed outright (and restarted by the AppHost) and the other is stopped and started again
/// (rebalances both ways).</summary>
[Collection(HeraldAppCollection.Name)]
public sealed class FifoFaultTests(HeraldAppFixture herald, ITestOutputHelper output)
{
    [Fact]
    public async Task Fifo_order_holds_while_processors_are_killed_and_restarted()
    {
        const int Count = 400;
        var app = await herald.Admin.CreateApplicationAsync("fifo-faults");
        var url = herald.Receiver.UrlFor($"fifo-{Guid.NewGuid():N}");
        var endpoint = (await herald.Admin.PostOkAsync($"/api/v1/apps/{app}/endpoints",
            new { url, ordering = "fifo", retryPolicy = new { delays = new[] { "100ms" }, maxAttempts = 50 } })).GetProperty("id").GetString()!;

        var sending = Task.Run(async () =>
        {
            for (var seq = 0; seq < Count; seq++)
            {
                await herald.Admin.SendMessageAsync(app, "order.updated", new { seq });
                await Task.Delay(20);
            }
        });

        var processors = await herald.ProcessorInstancesAsync();
        var ((killed, killedPid), (stopped, stoppedPid)) = (processors.First(), processors.Last());
        await herald.Receiver.WaitForRequestsAsync(url, 50, TimeSpan.FromSeconds(60));
        // Killed outright (no shutdown, no offset commit); the AppHost starts a crashed replica again by itself.
        Signals.Send(killedPid, Signal.Kill);
        output.WriteLine($"killed {killed} at {herald.Receiver.ReceivedAt(url).Count} requests");
        await herald.Receiver.WaitForRequestsAsync(url, herald.Receiver.ReceivedAt(url).Count + 50, TimeSpan.FromSeconds(90));
        var restarted = await herald.ProcessorInstancesAsync();
        Assert.NotEqual(killedPid, restarted[killed]);
        stoppedPid = restarted[stopped];

        Signals.Send(stoppedPid, Signal.Terminate);
        using (var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(1)))
        {
            await herald.App.ResourceNotifications.WaitForResourceAsync("processor",
                e => e.ResourceId == stopped && KnownResourceStates.TerminalStates.Contains(e.Snapshot.State?.Text), timeout.Token);
            await herald.App.ResourceCommands.ExecuteCommandAsync(stopped, KnownResourceCommands.StartCommand, timeout.Token);
        }
        output.WriteLine($"stopped and started {stopped} at {herald.Receiver.ReceivedAt(url).Count} requests");
        await sending;

        await using var connection = await herald.OpenDatabaseAsync();
        Assert.True(await Eventually.HoldsAsync(async () =>
        {
            await using var query = new Npgsql.NpgsqlCommand("SELECT count(*) FROM deliveries WHERE endpoint_id = $1 AND status = 'succeeded'", connection);
            query.Parameters.Add(new() { Value = endpoint });
            return (long)(await query.ExecuteScalarAsync())! == Count;
        }, TimeSpan.FromMinutes(2)), "Not every message was delivered.");

        var sequence = herald.Receiver.ReceivedAt(url).Where(w => w.Status == 204)
            .Select(w => JsonDocument.Parse(w.Body).RootElement.GetProperty("seq").GetInt32()).ToList();
        var violations = sequence.Zip(sequence.Skip(1)).Count(pair => pair.Second < pair.First);
        var repeats = sequence.Zip(sequence.Skip(1)).Count(pair => pair.Second == pair.First);
        output.WriteLine($"{Count} messages, {sequence.Count} successful receipts ({repeats} repeats of the head), order violations: {violations}");
        Assert.Equal(0, violations);
        Assert.Equal(Enumerable.Range(0, Count), sequence.Distinct());
        await herald.ProcessorInstancesAsync();
    }
}
