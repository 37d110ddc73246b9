using Aspire.Hosting.ApplicationModel;
using Herald.AppHost.Infrastructure.Local;
using Herald.Bench.Faults.Injectors;
using Microsoft.Extensions.DependencyInjection;

namespace Herald.Tests.Harness;

/// <summary>
/// Pulls the parts of a local-mode Herald out from under it, as an operator's bad day would: signals to the very
/// processes (PostgreSQL's whole cluster, Redis, a service instance — found as the fault matrix finds them), brokers of
/// the embedded Kafka taken off the network, and the orchestrator's Start command to bring a killed resource back.
/// </summary>
public sealed class FaultInjector(HeraldAppFixture herald)
{
    /// <summary>The postmaster and every process it started: freezing only the postmaster would leave backends serving.</summary>
    public IReadOnlyList<int> PostgresProcesses() =>
        HeraldProcesses.PostgresCluster(Model.Resources.OfType<LocalPostgresResource>().Single().DataDirectory) is { Count: > 0 } cluster
            ? cluster
            : throw new InvalidOperationException("PostgreSQL is not running.");

    public int RedisProcess() =>
        HeraldProcesses.Redis(Model.Resources.OfType<LocalRedisResource>().Single().WorkingDirectory)
        ?? throw new InvalidOperationException("Redis is not running.");

    public KafkaMockCluster Kafka => herald.App.Services.GetRequiredService<KafkaMockCluster>();

    /// <summary>Stops the processes (SIGSTOP) for <paramref name="duration"/>, then lets them go on (SIGCONT).</summary>
    public static async Task FreezeAsync(IReadOnlyList<int> pids, TimeSpan duration)
    {
        Signals.Send(pids, Signal.Stop);
        try
        {
            await Task.Delay(duration);
        }
        finally
        {
            Signals.Send(pids.Reverse(), Signal.Continue);
        }
    }

    /// <summary>Kills <paramref name="resource"/>'s processes outright, waits for the orchestrator to see it exit, and
    /// starts it again through the orchestrator.</summary>
    public async Task KillAndRestartAsync(string resource, IReadOnlyList<int> pids, TimeSpan down)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        Signals.Send(pids, Signal.Kill);
        await herald.App.ResourceNotifications.WaitForResourceAsync(resource,
            e => KnownResourceStates.TerminalStates.Contains(e.Snapshot.State?.Text), timeout.Token);
        await Task.Delay(down, timeout.Token);
        var started = await herald.App.ResourceCommands.ExecuteCommandAsync(resource, KnownResourceCommands.StartCommand, timeout.Token);
        Assert.True(started.Success, $"{resource} did not start again: {started.Message}");
        await herald.App.ResourceNotifications.WaitForResourceHealthyAsync(resource, timeout.Token);
        // The tests' own pooled connections died with the server.
        Npgsql.NpgsqlConnection.ClearAllPools();
    }

    /// <summary>Takes brokers off the network for <paramref name="duration"/>.</summary>
    public async Task BrokersDownAsync(IReadOnlyList<int> brokers, TimeSpan duration)
    {
        foreach (var broker in brokers) Kafka.SetBrokerDown(broker);
        try
        {
            await Task.Delay(duration);
        }
        finally
        {
            foreach (var broker in brokers) Kafka.SetBrokerUp(broker);
        }
    }

    private DistributedApplicationModel Model => herald.App.Services.GetRequiredService<DistributedApplicationModel>();
}
