using Aspire.Hosting;
using Aspire.Hosting.Testing;
using Herald.Bench.Delivery;
using Herald.Bench.Faults.Injectors;
using Herald.AppHost.Infrastructure.Local;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace Herald.Bench.Faults;

/// <summary>The matrix's rows, one fault each, in the order they run.</summary>
public static class FaultCatalog
{
    /// <summary>The receiver-faults row's delivery request timeout and retry schedule: short, so that every retry
    /// happens within the row.</summary>
    public static readonly TimeSpan ReceiverFaultsRequestTimeout = TimeSpan.FromSeconds(2);

    public const string ReceiverFaultsSchedule = "0s 1s 2s 4s 8s 8s 8s 8s";

    private static readonly TimeSpan RestartTimeout = TimeSpan.FromMinutes(2);

    public static IReadOnlyList<Fault> All { get; } =
    [
        new("none", "no fault: the same stream for the same time, to check the counting (lost and duplicated must be 0)", async run =>
        {
            run.Injected("nothing injected");
            await Task.Delay(run.Duration, run.CancellationToken);
            run.Healed("nothing to heal");
        }) { Duration = TimeSpan.FromSeconds(20) },

        new("processor-kill", "SIGKILL one Processor replica's service process (not its `dotnet run` parent); restarted with the resource's start command after the row, unless it came back by itself", run =>
        {
            var (instance, pid) = ServiceOf(run.Processors[0]);
            Signals.Send(pid, Signal.Kill);
            run.Assignments.Forget(instance);
            run.Victim = (instance, pid);
            run.Injected($"SIGKILL to {instance} (pid {pid})");
            run.Healed("nothing healed within the row");
            return Task.CompletedTask;
        })
        {
            Persists = true,
            AfterAsync = async run =>
            {
                if (HeraldProcesses.Service(run.Victim.Instance) is { } back && back != run.Victim.Pid)
                {
                    run.Note($"{run.Victim.Instance} came back by itself (pid {back})");
                    return;
                }
                run.Note($"{run.Victim.Instance} did not come back by itself");
                await ResourceRestarts.StartAfterExitAsync(run.Herald.App, run.Victim.Instance, run.CancellationToken);
                var pid = await ServiceReadyAsync(run, run.Victim.Instance);
                run.Note($"restarted with the start command: pid {pid} ready");
            },
        },

        new("processor-freeze", "SIGSTOP one Processor replica for longer than the consumer session (librdkafka's default 45 s), then SIGCONT: a zombie consumer that wakes up owning nothing", run =>
        {
            var (instance, pid) = ServiceOf(run.Processors[0]);
            return FreezeAsync(run, $"{instance} (pid {pid})", () => Signals.Send(pid, Signal.Stop) ? [pid] : []);
        }) { Duration = TimeSpan.FromSeconds(60) },

        new("processor-sigterm", "SIGTERM one Processor replica during load, then start it again once it has exited (a rolling restart)", run =>
            RollingRestartAsync(run, run.Processors[0])),

        new("api-sigterm", "SIGTERM the API (the AppHost runs one replica) during load, then start it again once it has exited (a rolling restart)", run =>
            RollingRestartAsync(run, run.Herald.ApiInstance)),

        new("kafka-down", "every broker of the embedded Kafka cluster down, then up", run =>
            BrokersDownAsync(run, brokers => brokers.All)) { Duration = TimeSpan.FromSeconds(20) },

        new("kafka-broker-down", "broker 1 of the embedded Kafka cluster's 3 down, then up", run =>
            BrokersDownAsync(run, _ => [1])) { Duration = TimeSpan.FromSeconds(30) },

        new("postgres-freeze", "SIGSTOP every process of the PostgreSQL cluster (postmaster first, then its children), then SIGCONT them all", run =>
            FreezeAsync(run, "the PostgreSQL cluster", () => Signals.StopTree(Postmaster(run)))) { Duration = TimeSpan.FromSeconds(15) },

        new("postgres-kill", "SIGKILL every process of the PostgreSQL cluster, then start the postgres resource again (its data directory is kept: crash recovery)", run =>
            KillAndRestartAsync(run, "postgres", "herald", () => Signals.StopTree(Postmaster(run)), async connectionString =>
            {
                await using var connection = new NpgsqlConnection(connectionString + ";Timeout=2;Pooling=false");
                await connection.OpenAsync(run.CancellationToken);
                await using var query = new NpgsqlCommand("SELECT 1", connection);
                await query.ExecuteScalarAsync(run.CancellationToken);
            })),

        new("redis-freeze", "SIGSTOP the Redis server, then SIGCONT", run =>
        {
            var pid = RedisOf(run);
            return FreezeAsync(run, $"redis-server (pid {pid})", () => Signals.Send(pid, Signal.Stop) ? [pid] : []);
        }) { Duration = TimeSpan.FromSeconds(20) },

        new("redis-kill", "SIGKILL the Redis server, then start the redis resource again (no persistence: it comes back empty)", run =>
            KillAndRestartAsync(run, "redis", "redis", () => [RedisOf(run)], async connectionString =>
            {
                await using var redis = await StackExchange.Redis.ConnectionMultiplexer.ConnectAsync(connectionString + ",connectTimeout=1000,abortConnect=true");
                await redis.GetDatabase().PingAsync();
            })),

        new("receiver-faults", "every endpoint answers 30 % of webhooks with 500 and 10 % only after the delivery request timeout (2 s), then recovers; Herald runs with a short timeout and retry schedule so retries end within the row", async run =>
        {
            var slow = new Reply(204, ReceiverFaultsRequestTimeout + TimeSpan.FromSeconds(1));
            var failing = new Reply(500);
            run.Receiver.Replies = () => Random.Shared.NextDouble() switch
            {
                < 0.3 => failing,
                < 0.4 => slow,
                _ => Reply.Ok,
            };
            run.Injected("receivers failing");
            await Task.Delay(run.Duration, run.CancellationToken);
            run.Receiver.Replies = () => Reply.Ok;
            run.Healed("receivers healthy");
        })
        {
            Duration = TimeSpan.FromSeconds(30),
            Settings =
            [
                $"--Herald:Delivery:RequestTimeout={ReceiverFaultsRequestTimeout:c}",
                $"--Herald:Delivery:Schedule={ReceiverFaultsSchedule}",
            ],
        },
    ];

    // SIGSTOP for the row's duration, then SIGCONT, in reverse order (a process tree's root last).
    private static async Task FreezeAsync(FaultRun run, string what, Func<IReadOnlyList<int>> stop)
    {
        var frozen = stop();
        if (frozen.Count == 0) throw new InvalidOperationException($"{what} is not running.");
        run.Injected($"SIGSTOP to {what}{(frozen.Count > 1 ? $", {frozen.Count} processes" : "")}");
        await Task.Delay(run.Duration, run.CancellationToken);
        Signals.Send(frozen.Reverse(), Signal.Continue);
        run.Healed("SIGCONT");
    }

    private static async Task BrokersDownAsync(FaultRun run, Func<KafkaBrokers, IReadOnlyList<int>> which)
    {
        var brokers = new KafkaBrokers(run.Herald.App.Services.GetRequiredService<KafkaMockCluster>());
        var down = which(brokers);
        brokers.Down(down);
        run.Injected($"broker(s) {string.Join(",", down)} down");
        await Task.Delay(run.Duration, run.CancellationToken);
        brokers.Up(down);
        run.Healed("broker(s) up");
    }

    // SIGKILL the processes (stopped first, so that none forks meanwhile), start the resource again through the
    // orchestrator, and wait until it answers at the connection string named.
    private static async Task KillAndRestartAsync(FaultRun run, string resource, string connectionName, Func<IReadOnlyList<int>> stop,
        Func<string, Task> answer)
    {
        var killed = stop();
        Signals.Send(killed, Signal.Kill);
        run.Injected($"SIGKILL to {resource} ({string.Join(",", killed.Take(3))}{(killed.Count > 3 ? $"… {killed.Count} processes" : "")})");
        await ResourceRestarts.StartAfterExitAsync(run.Herald.App, resource, run.CancellationToken);
        run.Note($"{resource} started again");
        var connectionString = await run.Herald.App.GetConnectionStringAsync(connectionName, run.CancellationToken)
                               ?? throw new InvalidOperationException($"No connection string {connectionName}.");
        await UntilAsync(run, $"{resource} answers", async () =>
        {
            await answer(connectionString);
            return true;
        });
        run.Healed($"{resource} answers");
    }

    // SIGTERM, wait for the exit, start it again through the orchestrator, wait until it answers ready.
    private static async Task RollingRestartAsync(FaultRun run, string instance)
    {
        var (_, pid) = ServiceOf(instance);
        Signals.Send(pid, Signal.Terminate);
        run.Injected($"SIGTERM to {instance} (pid {pid})");
        await UntilAsync(run, $"{instance} exits", () => Task.FromResult(!ProcessTree.IsAlive(pid)));
        run.Note("exited");
        var exitCode = await ResourceRestarts.StartAfterExitAsync(run.Herald.App, instance, run.CancellationToken);
        run.Note($"exit code {exitCode?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "unknown"}; started again");
        var restarted = await ServiceReadyAsync(run, instance);
        run.Healed($"pid {restarted} ready");
    }

    private static (string Instance, int Pid) ServiceOf(string instance) =>
        (instance, HeraldProcesses.Service(instance) ?? throw new InvalidOperationException($"No live process for {instance}."));

    private static int Postmaster(FaultRun run) =>
        HeraldProcesses.PostgresCluster(run.PostgresDataDirectory).FirstOrDefault() is var pid and > 0
            ? pid
            : throw new InvalidOperationException($"No PostgreSQL serving {run.PostgresDataDirectory}.");

    private static int RedisOf(FaultRun run) =>
        HeraldProcesses.Redis(run.RedisDirectory) ?? throw new InvalidOperationException($"No redis-server running in {run.RedisDirectory}.");

    /// <summary>Waits until the instance has a live service process that answers ready on its own port.</summary>
    private static async Task<int> ServiceReadyAsync(FaultRun run, string instance)
    {
        using var http = new HttpClient { Timeout = ReadinessProbe.Timeout };
        var ready = 0;
        await UntilAsync(run, $"{instance} is ready", async () =>
        {
            if (HeraldProcesses.Service(instance) is not { } pid || HeraldProcesses.ManagementAddress(pid) is not { } url) return false;
            using var response = await http.GetAsync(new Uri(url, "/readyz"), run.CancellationToken);
            ready = pid;
            return response.IsSuccessStatusCode;
        });
        return ready;
    }

    // Polls a condition (an exception counts as not yet) until it holds, or fails the row after RestartTimeout.
    private static async Task UntilAsync(FaultRun run, string what, Func<Task<bool>> condition)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(run.CancellationToken);
        timeout.CancelAfter(RestartTimeout);
        while (true)
        {
            try
            {
                if (await condition()) return;
            }
            catch (Exception exception) when (exception is not OperationCanceledException || !run.CancellationToken.IsCancellationRequested)
            {
                // not yet
            }
            try
            {
                await Task.Delay(100, timeout.Token);
            }
            catch (OperationCanceledException) when (!run.CancellationToken.IsCancellationRequested)
            {
                throw new TimeoutException($"Waited {RestartTimeout.TotalMinutes:0} min for: {what}.");
            }
        }
    }
}
