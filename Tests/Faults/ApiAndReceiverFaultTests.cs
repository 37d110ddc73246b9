using System.Collections.Concurrent;
using Aspire.Hosting.ApplicationModel;
using Herald.Bench.Faults.Injectors;
using Herald.Tests.Harness;
using Xunit.Abstractions;

namespace Herald.Tests.Faults;

/// <summary>The API restarted under load (a rolling restart of one replica), and receivers that fail and dawdle.</summary>
[Collection(HeraldAppCollection.Name)]
public sealed class ApiAndReceiverFaultTests(HeraldAppFixture herald, ITestOutputHelper output)
{
    [Fact]
    public async Task The_api_stopped_gracefully_under_load_answers_what_it_took_and_loses_none_of_it()
    {
        var api = await herald.CurrentStateAsync("api");
        var run = await FaultRun.RunAsync(herald, output, async () =>
        {
            Signals.Send(HeraldAppFixture.ProcessOf(api.ResourceId)!.Value, Signal.Terminate);
            using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(1));
            var exited = await herald.App.ResourceNotifications.WaitForResourceAsync("api",
                e => KnownResourceStates.TerminalStates.Contains(e.Snapshot.State?.Text), timeout.Token);
            Assert.Equal(0, exited.Snapshot.ExitCode);
            await herald.App.ResourceCommands.ExecuteCommandAsync(api.ResourceId, KnownResourceCommands.StartCommand, timeout.Token);
            await herald.App.ResourceNotifications.WaitForResourceHealthyAsync("api", timeout.Token);
        });

        // Every request the stopping API took was answered 202: through the drain and until it stopped listening.
        var stopped = run.Sent.Where(s => s.Status is null).Min(s => s.SentAt);
        Assert.All(run.Sent.Where(s => s.SentAt + s.Latency < stopped), sent => Assert.Equal(202, sent.Status));
        // Later ones waited in the orchestrator's proxy for the new process (or gave up there); the new process, swamped
        // by them while cold, may refuse a few with a retryable 503 — never another error.
        Assert.All(run.Sent, sent => Assert.True(sent.Status is 202 or null || sent is { Status: 503, RetryAfter: not null },
            $"{sent.EventId}: {sent.Status}"));
        Assert.Equal(0, run.Lost);
        Assert.Equal(0, run.Duplicated);
    }

    [Fact]
    public async Task Receivers_that_fail_and_dawdle_get_every_message_once_by_retrying()
    {
        var failures = new ConcurrentDictionary<string, int>();
        var random = new Random(7);
        var run = await FaultRun.RunAsync(herald, output, () => Task.Delay(TimeSpan.FromSeconds(5)), configureEndpoint: url =>
            herald.Receiver.ReplyAt(url, webhook =>
            {
                lock (random)
                {
                    var roll = random.NextDouble();
                    // 30 % fail (at most twice per message, within the test schedule's four attempts); 10 % take 3 s.
                    if (roll < 0.3 && failures.AddOrUpdate($"{url}|{webhook.MessageId}", 1, (_, n) => n + 1) <= 2) return new Reply(500);
                    return roll < 0.4 ? new Reply(204, TimeSpan.FromSeconds(3)) : Reply.Ok;
                }
            }));

        Assert.All(run.Sent, sent => Assert.Equal(202, sent.Status));
        Assert.Equal(0, run.Lost);
        Assert.Equal(0, run.Duplicated);
    }
}
