using System.Globalization;
using Aspire.Hosting.ApplicationModel;
using Herald.AppHost.Infrastructure.Kafka;
using Herald.AppHost.Infrastructure.Local;
using Microsoft.Extensions.DependencyInjection;

namespace Herald.Tests.Infrastructure;

/// <summary>
/// Pulls the parts of a local-mode Herald out from under it, as an operator's bad day would: signals to the very
/// processes (PostgreSQL's whole cluster, Redis, a service instance), brokers of the embedded Kafka taken off the
/// network, and the orchestrator's Start command to bring a killed resource back.
/// </summary>
public sealed class FaultInjector(HeraldAppFixture herald)
{
    /// <summary>The postmaster and every process it started (backends, checkpointer, WAL writer…): freezing only the
    /// postmaster would leave the backends serving.</summary>
    public IReadOnlyList<int> PostgresProcesses()
    {
        var server = Model.Resources.OfType<LocalPostgresResource>().Single();
        var postmaster = int.Parse(File.ReadLines(Path.Combine(server.DataDirectory, "postmaster.pid")).First(), CultureInfo.InvariantCulture);
        return [postmaster, .. Processes.ChildrenOf(postmaster)];
    }

    public int RedisProcess()
    {
        // redis-server retitles itself "redis-server 127.0.0.1:<port>": its port tells this Herald's apart.
        var port = Model.Resources.OfType<LocalRedisResource>().Single().PrimaryEndpoint.Port;
        return Processes.Matching(cmdline => cmdline.Contains("redis-server", StringComparison.Ordinal)
                                             && cmdline.Contains($":{port}", StringComparison.Ordinal)).Single();
    }

    public KafkaMockCluster Kafka => herald.App.Services.GetRequiredService<KafkaMockCluster>();

    /// <summary>Stops the processes (SIGSTOP) for <paramref name="duration"/>, then lets them go on (SIGCONT).</summary>
    public static async Task FreezeAsync(IReadOnlyList<int> pids, TimeSpan duration)
    {
        Signal("STOP", pids);
        try
        {
            await Task.Delay(duration);
        }
        finally
        {
            Signal("CONT", pids);
        }
    }

    public static void Signal(string signal, IEnumerable<int> pids)
    {
        using var kill = System.Diagnostics.Process.Start("kill", [$"-{signal}", .. pids.Select(p => p.ToString(CultureInfo.InvariantCulture))]);
        kill.WaitForExit();
    }

    /// <summary>Kills <paramref name="resource"/>'s processes outright, waits for the orchestrator to see it exit, and
    /// starts it again through the orchestrator.</summary>
    public async Task KillAndRestartAsync(string resource, IReadOnlyList<int> pids, TimeSpan down)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        Signal("KILL", pids);
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

/// <summary>Processes as /proc shows them.</summary>
public static class Processes
{
    public static IEnumerable<int> ChildrenOf(int parent) => All().Where(pid => ParentOf(pid) == parent);

    public static IEnumerable<int> Matching(Func<string, bool> cmdline) => All().Where(pid => cmdline(CommandLine(pid)));

    public static int ParentOf(int pid)
    {
        try
        {
            // "pid (comm) state ppid ...": comm may contain spaces, so read after the last ')'.
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            return int.Parse(stat[(stat.LastIndexOf(')') + 2)..].Split(' ')[1], CultureInfo.InvariantCulture);
        }
        catch (IOException)
        {
            return 0;
        }
    }

    private static string CommandLine(int pid)
    {
        try
        {
            return File.ReadAllText($"/proc/{pid}/cmdline").Replace('\0', ' ');
        }
        catch (Exception exception) when (exception is IOException or UnauthorizedAccessException)
        {
            return "";
        }
    }

    private static IEnumerable<int> All() =>
        Directory.EnumerateDirectories("/proc").Select(Path.GetFileName).Select(name => int.TryParse(name, out var pid) ? pid : 0).Where(pid => pid > 0);
}
