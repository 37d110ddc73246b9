using System.Net;
using Herald.Tests.Harness;
using Npgsql;
using Xunit.Abstractions;

namespace Herald.Tests.Faults;

/// <summary>PostgreSQL is the source of truth: while it hangs or is gone the API refuses promptly (503, Retry-After,
/// ProblemDetails) rather than hanging or failing with a 500, readiness says so at once, and nothing accepted — or
/// half-written — is lost once it is back.</summary>
[Collection(HeraldAppCollection.Name)]
public sealed class PostgresOutageTests(HeraldAppFixture herald, ITestOutputHelper output)
{
    /// <summary>The request deadline (1.5 s), with room for a busy machine.</summary>
    private static readonly TimeSpan Prompt = TimeSpan.FromSeconds(2.5);

    [Fact]
    public async Task Postgres_frozen_gets_prompt_503s_never_a_hang_and_loses_nothing()
    {
        var faults = new FaultInjector(herald);
        var run = await FaultRun.RunAsync(herald, output, () => FaultInjector.FreezeAsync(faults.PostgresProcesses(), TimeSpan.FromSeconds(6)));

        await AssertRefusedPromptlyAndNothingLostAsync(run);
    }

    [Fact]
    public async Task Postgres_killed_and_restarted_gets_prompt_503s_and_loses_nothing()
    {
        var faults = new FaultInjector(herald);
        var run = await FaultRun.RunAsync(herald, output, () => faults.KillAndRestartAsync("postgres", faults.PostgresProcesses(), TimeSpan.FromSeconds(3)));

        await AssertRefusedPromptlyAndNothingLostAsync(run);
    }

    private async Task AssertRefusedPromptlyAndNothingLostAsync(FaultRun run)
    {
        Assert.All(run.Sent, sent =>
        {
            Assert.True(sent.Status is 202 or 503, $"{sent.EventId}: {sent.Status?.ToString() ?? sent.ContentType} after {sent.Latency}");
            Assert.True(sent.ServiceLatency < Prompt, $"{sent.EventId}: {sent.Status} after {sent.Latency}, {sent.Stalled} of it while this test process was stalled");
        });
        var refused = run.Sent.Where(s => s.Status == 503).ToList();
        Assert.NotEmpty(refused);
        Assert.All(refused, sent =>
        {
            Assert.NotNull(sent.RetryAfter);
            Assert.Equal("application/problem+json", sent.ContentType);
        });
        Assert.Contains(run.Readiness, r => r.Status == HttpStatusCode.ServiceUnavailable);
        Assert.All(run.Readiness, r => Assert.True(r.Status is not null && r.Latency < TimeSpan.FromSeconds(1), $"readiness: {r.Status} after {r.Latency}"));
        Assert.Equal(0, run.Lost);
        Assert.Equal(0, run.Duplicated);

        // A refused request may still have been committed (the deadline passed while its commit was queued): then the
        // message is whole and is delivered like any other. Nothing else of it is in the database.
        await using var database = await herald.OpenDatabaseAsync();
        await using var query = new NpgsqlCommand("SELECT id, payload::text FROM messages WHERE event_id = ANY($1)", database);
        query.Parameters.Add(new() { Value = refused.Select(s => s.EventId).ToArray() });
        var stored = new List<(string Id, string Payload)>();
        await using (var reader = await query.ExecuteReaderAsync())
        {
            while (await reader.ReadAsync()) stored.Add((reader.GetString(0), reader.GetString(1)));
        }
        output.WriteLine($"{refused.Count} refused, of which {stored.Count} committed anyway");
        foreach (var (id, payload) in stored)
        {
            Assert.Contains("eventId", payload);
            await herald.Receiver.WaitForAsync(id, TimeSpan.FromSeconds(30));
        }
    }
}
