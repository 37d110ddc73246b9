using Herald.ServiceDefaults.Health;
using Herald.ServiceDefaults.Shutdown;
using Herald.ServiceDefaults.Telemetry;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;

namespace Microsoft.Extensions.Hosting;

/// <summary>
/// What every Herald service shares: health probes, graceful shutdown, telemetry and HttpClient defaults.
/// Infrastructure clients (PostgreSQL, Redis, Kafka) are added by each service with the extensions beside this file.
/// </summary>
public static class ServiceDefaultsExtensions
{
    /// <summary>Thread-pool threads started on demand without the pool's usual injection delay (about two a second).</summary>
    public const int MinThreads = 32;

    public static TBuilder AddServiceDefaults<TBuilder>(this TBuilder builder) where TBuilder : IHostApplicationBuilder
    {
        // A dependency that hangs makes some clients block a thread while they give up (Npgsql cancels a timed-out query
        // with a synchronous request to the server). With the pool's minimum at the core count, two such threads starve
        // every timer and continuation until the pool grows; a higher minimum keeps everything else on time meanwhile.
        ThreadPool.GetMinThreads(out var workers, out var completionPorts);
        ThreadPool.SetMinThreads(Math.Max(workers, MinThreads), completionPorts);

        builder.AddHeraldTelemetry();
        builder.AddHealthProbes();
        builder.AddManagementPort();
        builder.AddGracefulShutdown();

        builder.Services.AddServiceDiscovery();
        builder.Services.ConfigureHttpClientDefaults(http =>
        {
            http.AddStandardResilienceHandler();
            http.AddServiceDiscovery();
        });

        return builder;
    }

    /// <summary>Serves <c>/healthz</c>, <c>/readyz</c> and <c>/metrics</c> in every environment (probes and scrapers run in
    /// Production too), on the management port (see <see cref="ManagementPort"/>). Call it first, before any other
    /// middleware.</summary>
    public static WebApplication UseDefaultEndpoints(this WebApplication app)
    {
        app.UseManagementEndpoints();
        return app;
    }
}
