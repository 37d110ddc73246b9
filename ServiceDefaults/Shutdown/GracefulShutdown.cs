using Herald.ServiceDefaults.Health;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Herald.ServiceDefaults.Shutdown;

public static class GracefulShutdownExtensions
{
    public static void AddGracefulShutdown(this IHostApplicationBuilder builder)
    {
        var section = builder.Configuration.GetSection(ShutdownOptions.Section);
        builder.Services.Configure<ShutdownOptions>(section);
        var options = section.Get<ShutdownOptions>() ?? new ShutdownOptions();
        builder.Services.Configure<HostOptions>(host => host.ShutdownTimeout = options.Timeout);

        // Registered before anything else stops: the host calls every IHostedLifecycleService.StoppingAsync before
        // any StopAsync, so Kestrel keeps answering (with readiness 503) throughout the drain delay.
        builder.Services.AddHostedService<GracefulShutdown>();
        builder.Services.AddHostedService<FailedServiceExitCode>();
    }
}

/// <summary>
/// The shutdown sequence on SIGTERM: readiness turns 503 at once, the drain delay lets load balancers notice, then
/// the host stops intake (Kestrel, consumers) and waits for in-flight work within <see cref="HostOptions.ShutdownTimeout"/>,
/// and disposing the container closes PostgreSQL, Redis and Kafka connections.
/// </summary>
internal sealed class GracefulShutdown(
    DrainState drain,
    IOptions<ShutdownOptions> options,
    ILogger<GracefulShutdown> logger) : IHostedLifecycleService
{
    public async Task StoppingAsync(CancellationToken cancellationToken)
    {
        drain.Begin();
        var delay = options.Value.DrainDelay;
        logger.LogInformation("Shutdown: draining, readiness now reports 503; intake stops in {DrainDelay}", delay);
        if (delay > TimeSpan.Zero)
        {
            try
            {
                await Task.Delay(delay, cancellationToken);
            }
            catch (OperationCanceledException)
            {
                logger.LogWarning("Shutdown: drain delay cut short by the shutdown timeout");
            }
        }
        logger.LogInformation("Shutdown: stopping intake and finishing in-flight work (timeout {Timeout})", options.Value.Timeout);
    }

    public Task StoppedAsync(CancellationToken cancellationToken)
    {
        logger.LogInformation("Shutdown: in-flight work finished; closing connections");
        return Task.CompletedTask;
    }

    public Task StartingAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    public Task StartedAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
