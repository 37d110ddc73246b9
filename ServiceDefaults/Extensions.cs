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
    public static TBuilder AddServiceDefaults<TBuilder>(this TBuilder builder) where TBuilder : IHostApplicationBuilder
    {
        builder.AddHeraldTelemetry();
        builder.AddHealthProbes();
        builder.AddGracefulShutdown();

        builder.Services.AddServiceDiscovery();
        builder.Services.ConfigureHttpClientDefaults(http =>
        {
            http.AddStandardResilienceHandler();
            http.AddServiceDiscovery();
        });

        return builder;
    }

    /// <summary>Maps <c>/healthz</c>, <c>/readyz</c> and <c>/metrics</c> in every environment: probes and scrapers run in
    /// Production too.</summary>
    public static WebApplication MapDefaultEndpoints(this WebApplication app)
    {
        app.MapHealthProbes();
        app.MapPrometheusScrapingEndpoint(TelemetryExtensions.MetricsPath);
        return app;
    }
}
