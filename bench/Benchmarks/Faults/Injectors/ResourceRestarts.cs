using Aspire.Hosting;
using Aspire.Hosting.ApplicationModel;

namespace Herald.Bench.Faults.Injectors;

/// <summary>Starting a resource instance again through the orchestrator, as the dashboard's Start button does.</summary>
public static class ResourceRestarts
{
    /// <summary>The instance ids ("processor-abcd1234") of a resource, as the orchestrator has announced them.</summary>
    public static async Task<IReadOnlyList<string>> InstancesAsync(DistributedApplication app, string resource, int count, CancellationToken cancellationToken)
    {
        var instances = new SortedSet<string>(StringComparer.Ordinal);
        await foreach (var update in app.ResourceNotifications.WatchAsync(cancellationToken))
        {
            if (update.Resource.Name == resource) instances.Add(update.ResourceId);
            if (instances.Count == count) return [.. instances];
        }
        throw new OperationCanceledException(cancellationToken);
    }

    /// <summary>Waits until the orchestrator has seen the instance stop, then starts it. Starting before it has seen
    /// the exit would start a second copy beside the dying one.</summary>
    /// <param name="resource">An instance id, or the name of a resource that has one instance ("postgres").</param>
    /// <returns>The exit code the orchestrator recorded for the stopped instance, if any.</returns>
    public static async Task<int?> StartAfterExitAsync(DistributedApplication app, string resource, CancellationToken cancellationToken)
    {
        var (name, id) = app.ResourceNotifications.TryGetCurrentState(resource, out var current)
            ? (current.Resource.Name, current.ResourceId)
            : (resource, resource);
        var stopped = await app.ResourceNotifications.WaitForResourceAsync(name,
            e => e.ResourceId == id && KnownResourceStates.TerminalStates.Contains(e.Snapshot.State?.Text), cancellationToken);
        var result = await app.ResourceCommands.ExecuteCommandAsync(id, KnownResourceCommands.StartCommand, cancellationToken);
        if (!result.Success) throw new InvalidOperationException($"Starting {id} failed: {result.Message}");
        return stopped.Snapshot.ExitCode;
    }
}
