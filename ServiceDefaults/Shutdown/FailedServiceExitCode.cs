using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Herald.ServiceDefaults.Shutdown;

/// <summary>
/// A background service that throws stops the host (the default <see cref="BackgroundServiceExceptionBehavior.StopHost"/>),
/// which would otherwise exit 0 like a requested shutdown. This makes the exit code say it failed, so whatever watches
/// the process (the AppHost's crash supervisor, Kubernetes) treats it as the crash it is.
/// </summary>
internal sealed class FailedServiceExitCode(IServiceProvider services, ILogger<FailedServiceExitCode> logger) : IHostedLifecycleService
{
    public const int ExitCode = 70; // EX_SOFTWARE

    public Task StoppedAsync(CancellationToken cancellationToken)
    {
        foreach (var failed in services.GetServices<IHostedService>().OfType<BackgroundService>().Where(s => s.ExecuteTask is { IsFaulted: true }))
        {
            logger.LogCritical(failed.ExecuteTask!.Exception, "{Service} failed; exiting with code {ExitCode}", failed.GetType().Name, ExitCode);
            Environment.ExitCode = ExitCode;
        }
        return Task.CompletedTask;
    }

    public Task StartingAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    public Task StartedAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    public Task StoppingAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
