using Herald.ServiceDefaults.Health;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;

namespace Herald.ServiceDefaults.Telemetry;

public static class TelemetryExtensions
{
    /// <summary>Meters and activity sources named <c>Herald.*</c> are exported without further registration.</summary>
    public const string HeraldInstrumentation = "Herald.*";

    /// <summary>Where Prometheus scrapes each service (the Kubernetes manifests' scrape annotations say so too).</summary>
    public const string MetricsPath = "/metrics";

    /// <summary>Npgsql's own meter: connection pool usage, command durations.</summary>
    public const string NpgsqlMeter = "Npgsql";

    public static void AddHeraldTelemetry(this IHostApplicationBuilder builder)
    {
        builder.Logging.AddOpenTelemetry(logging =>
        {
            logging.IncludeFormattedMessage = true;
            logging.IncludeScopes = true;
        });

        var telemetry = builder.Services.AddOpenTelemetry()
            .WithMetrics(metrics => metrics
                .AddAspNetCoreInstrumentation()
                .AddHttpClientInstrumentation()
                .AddRuntimeInstrumentation()
                .AddMeter(HeraldInstrumentation)
                // Aspire.Npgsql adds it too, unless its metrics are disabled; the pool gauges are ours to rely on.
                .AddMeter(NpgsqlMeter)
                .AddHeraldViews()
                // Every scrape reads the counters as they are: the exporter's default 300 ms response cache could hand a
                // scrape taken right after traffic the numbers from before it.
                .AddPrometheusExporter(prometheus => prometheus.ScrapeResponseCacheDurationMilliseconds = 0))
            .WithTracing(tracing => tracing
                .AddSource(builder.Environment.ApplicationName, HeraldInstrumentation)
                .AddAspNetCoreInstrumentation(aspnet =>
                    // Probes and scrapes every few seconds would drown real traces.
                    aspnet.Filter = context => context.Request.Path != HealthProbes.LivenessPath
                                               && context.Request.Path != HealthProbes.ReadinessPath
                                               && context.Request.Path != MetricsPath)
                .AddHttpClientInstrumentation()
                // Before any exporter (added below): what is exported is already redacted.
                .AddProcessor(new OutgoingUrlRedaction()));

        // The Aspire dashboard (or any collector) sets this; without it nothing is pushed.
        if (!string.IsNullOrWhiteSpace(builder.Configuration["OTEL_EXPORTER_OTLP_ENDPOINT"]))
        {
            telemetry.UseOtlpExporter();
        }
    }
}
