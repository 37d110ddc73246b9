using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Herald.AppHost.Supervision;

/// <summary>Marks a resource whose replicas the AppHost starts again when they die, as a Kubernetes Deployment would.</summary>
internal sealed class RestartOnCrashAnnotation : IResourceAnnotation;

public static class RestartOnCrashExtensions
{
    /// <summary>
    /// A replica that exits on its own with a non-zero code (a crash, a SIGKILL, an out-of-memory kill) is started
    /// again after a short back-off, doubling while it keeps crashing. A replica stopped on purpose (the dashboard's
    /// Stop, the AppHost shutting down) is left alone: it passes through Stopping first, a crash does not. Only in a
    /// local run; in a cluster the Deployment's restart policy does this.
    /// </summary>
    public static IResourceBuilder<ProjectResource> WithRestartOnCrash(this IResourceBuilder<ProjectResource> project)
    {
        if (project.ApplicationBuilder.ExecutionContext.IsRunMode)
        {
            project.ApplicationBuilder.Services.TryAddEnumerableHostedService<CrashSupervisor>();
        }
        return project.WithAnnotation(new RestartOnCrashAnnotation());
    }

    private static void TryAddEnumerableHostedService<T>(this IServiceCollection services) where T : class, IHostedService
    {
        if (services.Any(s => s.ImplementationType == typeof(T))) return;
        services.AddHostedService<T>();
    }
}

internal sealed class CrashSupervisor(
    ResourceNotificationService notifications,
    ResourceCommandService commands,
    IHostApplicationLifetime lifetime,
    ILogger<CrashSupervisor> logger) : BackgroundService
{
    private static readonly TimeSpan FirstBackoff = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan MaxBackoff = TimeSpan.FromSeconds(30);
    // Running this long without a crash forgets earlier crashes.
    private static readonly TimeSpan StableAfter = TimeSpan.FromMinutes(1);

    private readonly Dictionary<string, Replica> _replicas = [];

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            await foreach (var update in notifications.WatchAsync(stoppingToken))
            {
                if (!update.Resource.HasAnnotationOfType<RestartOnCrashAnnotation>()) continue;
                var replica = _replicas.TryGetValue(update.ResourceId, out var known) ? known : _replicas[update.ResourceId] = new Replica();
                var state = update.Snapshot.State?.Text;
                if (state == KnownResourceStates.Running && replica.State != KnownResourceStates.Running)
                {
                    replica.RunningSince = DateTime.UtcNow;
                }
                else if (state == KnownResourceStates.Stopping)
                {
                    replica.StoppedOnPurpose = true;
                }
                else if (state is not null && KnownResourceStates.TerminalStates.Contains(state) && replica.State != state)
                {
                    OnTerminal(update, replica, state);
                }
                else if (state == KnownResourceStates.Starting)
                {
                    replica.StoppedOnPurpose = false;
                }
                replica.State = state;
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    private void OnTerminal(ResourceEvent update, Replica replica, string state)
    {
        var exitCode = update.Snapshot.ExitCode;
        if (replica.StoppedOnPurpose || lifetime.ApplicationStopping.IsCancellationRequested || exitCode == 0) return;

        if (DateTime.UtcNow - replica.RunningSince > StableAfter) replica.Crashes = 0;
        var backoff = TimeSpan.FromTicks(Math.Min(MaxBackoff.Ticks, FirstBackoff.Ticks << Math.Min(replica.Crashes, 5)));
        replica.Crashes++;
        logger.LogWarning("{Resource} {State} with exit code {ExitCode}; starting it again in {Backoff}",
            update.ResourceId, state, exitCode?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "unknown", backoff);
        _ = RestartAsync(update.ResourceId, backoff, lifetime.ApplicationStopping);
    }

    private async Task RestartAsync(string resourceId, TimeSpan backoff, CancellationToken stopping)
    {
        try
        {
            await Task.Delay(backoff, stopping);
            var result = await commands.ExecuteCommandAsync(resourceId, KnownResourceCommands.StartCommand, stopping);
            if (!result.Success) logger.LogError("Could not start {Resource} again: {Reason}", resourceId, result.Message);
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
        }
        catch (Exception exception)
        {
            logger.LogError(exception, "Could not start {Resource} again", resourceId);
        }
    }

    private sealed class Replica
    {
        public string? State { get; set; }
        public DateTime RunningSince { get; set; } = DateTime.UtcNow;
        public bool StoppedOnPurpose { get; set; }
        public int Crashes { get; set; }
    }
}
