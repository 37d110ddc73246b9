using Herald.ServiceDefaults.Hosting;
using Herald.ServiceDefaults.Telemetry;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Hosting;

namespace Herald.ServiceDefaults.Health;

/// <summary>
/// <c>/healthz</c>, <c>/readyz</c> and <c>/metrics</c> on a port of their own (<see cref="PortSetting"/>), which
/// serves nothing else: the public ports serve only the service's API, so neither its health detail nor its metric
/// labels (application ids, event type names) are readable from outside, and probes cannot be used to load it. The
/// decision is by the port the connection arrived on, never by a header the client sends. Without the setting (a
/// service run on its own) they share the service's port.
/// </summary>
public static class ManagementPort
{
    public const string PortSetting = "MANAGEMENT_PORT";

    /// <summary>The AppHost endpoint (and Kubernetes port) name.</summary>
    public const string EndpointName = "management";

    public static int? Of(IConfiguration configuration) => configuration.GetValue<int?>(PortSetting);

    internal static void AddManagementPort(this IHostApplicationBuilder builder)
    {
        // HTTP/1.1 only: the kubelet and Prometheus speak it, and it needs no TLS negotiation.
        if (Of(builder.Configuration) is { } port) builder.AddServicePort(port, HttpProtocols.Http1);
    }

    /// <summary>First in the pipeline: a management request is answered before any of the API's middleware.</summary>
    internal static void UseManagementEndpoints(this WebApplication app)
    {
        var port = Of(app.Configuration);
        bool OnManagementPort(HttpContext context) => port is null || context.Connection.LocalPort == port;

        app.UseWhen(context => OnManagementPort(context) && IsManagementPath(context.Request.Path), management =>
        {
            // Probes and scrapes every few seconds would drown the service's own request metrics.
            management.Use((context, next) =>
            {
                if (context.Features.Get<IHttpMetricsTagsFeature>() is { } metrics) metrics.MetricsDisabled = true;
                return next(context);
            });
            management.UseHealthProbes();
            management.UseOpenTelemetryPrometheusScrapingEndpoint(TelemetryExtensions.MetricsPath);
        });
        if (port is not null)
        {
            app.MapWhen(context => context.Connection.LocalPort == port, branch => branch.Run(context =>
            {
                context.Response.StatusCode = StatusCodes.Status404NotFound;
                return Task.CompletedTask;
            }));
        }
    }

    internal static bool IsManagementPath(PathString path) =>
        path == HealthProbes.LivenessPath || path == HealthProbes.ReadinessPath || path == TelemetryExtensions.MetricsPath;
}
