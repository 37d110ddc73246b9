using System.Collections.Concurrent;
using System.Globalization;
using Aspire.Hosting;
using Aspire.Hosting.ApplicationModel;
using Herald.Bench.Faults.Injectors;
using Microsoft.Extensions.DependencyInjection;

namespace Herald.Bench;

/// <summary>
/// When a Herald AppHost started in-process is ready: its resources healthy, then every Processor replica answering ready
/// on its own management port. The one way the benchmarks (<see cref="HeraldUnderTest"/>) and the tests' fixture
/// (Tests.csproj compiles this file) wait for it.
/// </summary>
public static class HeraldReadiness
{
    /// <summary>Processor replicas the AppHost runs.</summary>
    public const int ProcessorReplicas = 2;

    /// <summary>Waits for <paramref name="resources"/> to be healthy, then for the Processor replicas
    /// (<see cref="ProcessorsReadyAsync"/>).</summary>
    /// <param name="resources">Resources waited for by name; not "processor" (see <see cref="ProcessorsReadyAsync"/>).</param>
    /// <param name="timeout">The longest wait for the replicas, even when <paramref name="cancellationToken"/> has no end.</param>
    public static async Task<IReadOnlyDictionary<string, int>> WaitUntilReadyAsync(DistributedApplication app, IEnumerable<string> resources,
        TimeSpan timeout, CancellationToken cancellationToken)
    {
        foreach (var resource in resources)
        {
            try
            {
                await app.ResourceNotifications.WaitForResourceHealthyAsync(resource, cancellationToken);
            }
            catch (DistributedApplicationException exception)
            {
                // The resource's own last words, so a failed start says why.
                throw new DistributedApplicationException($"{exception.Message} Its last log lines:\n{await LastLogLinesAsync(app, resource)}", exception);
            }
        }
        return await ProcessorsReadyAsync(app, timeout, cancellationToken);
    }

    /// <summary>The Processor's replicas once every one answers ready on its own port: instance id → process id.
    /// Asked of each process directly: a wait by name on the replicated processor can settle on a stopped replica's last
    /// snapshot, and right after a restart the orchestrator's snapshot can still show the old health.</summary>
    /// <param name="timeout">The longest wait, even when <paramref name="cancellationToken"/> has no end: a replica that died
    /// (say, of a crash) fails the caller that needed it, naming its state, rather than hanging the run.</param>
    public static async Task<IReadOnlyDictionary<string, int>> ProcessorsReadyAsync(DistributedApplication app, TimeSpan timeout,
        CancellationToken cancellationToken)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(timeout);
        IReadOnlyList<string> instances = [];
        try
        {
            instances = await ResourceRestarts.InstancesAsync(app, "processor", ProcessorReplicas, deadline.Token);
            using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
            while (true)
            {
                var ready = new Dictionary<string, int>();
                foreach (var instance in instances)
                {
                    if (HeraldProcesses.Service(instance) is { } pid && await IsReadyAsync(http, pid, deadline.Token)) ready[instance] = pid;
                }
                if (ready.Count == instances.Count) return ready;
                await Task.Delay(250, deadline.Token);
            }
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            var states = instances.Select(instance => app.ResourceNotifications.TryGetCurrentState(instance, out var state)
                ? $"{instance}: {state.Snapshot.State?.Text} (exit code {state.Snapshot.ExitCode?.ToString(CultureInfo.InvariantCulture) ?? "none"})"
                : $"{instance}: no state");
            throw new TimeoutException($"Processor replicas not all ready within {timeout.TotalMinutes} min: {string.Join("; ", states)}.");
        }
    }

    /// <summary>Collects a resource's console output (what it has logged so far, then what follows) until cancelled.</summary>
    public static async Task WatchLogsAsync(DistributedApplication app, string resourceId, ConcurrentQueue<string> logs, CancellationToken cancellationToken)
    {
        var logger = app.Services.GetRequiredService<ResourceLoggerService>();
        try
        {
            await foreach (var batch in logger.WatchAsync(resourceId).WithCancellation(cancellationToken))
            {
                foreach (var line in batch) logs.Enqueue(line.Content);
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    private static async Task<string> LastLogLinesAsync(DistributedApplication app, string resource, int count = 60)
    {
        // The log of a stopped resource stays open: what arrives within a few seconds is what there is.
        var lines = new ConcurrentQueue<string>();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(3));
        await WatchLogsAsync(app, resource, lines, timeout.Token);
        return string.Join('\n', lines.TakeLast(count));
    }

    private static async Task<bool> IsReadyAsync(HttpClient http, int pid, CancellationToken cancellationToken)
    {
        if (HeraldProcesses.ManagementAddress(pid) is not { } management) return false;
        try
        {
            using var response = await http.GetAsync(new Uri(management, "/readyz"), cancellationToken);
            return response.IsSuccessStatusCode;
        }
        catch (Exception exception) when (exception is HttpRequestException or IOException
                                          || (exception is TaskCanceledException && !cancellationToken.IsCancellationRequested))
        {
            return false;
        }
    }
}
