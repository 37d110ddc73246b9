using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;

namespace Herald.ServiceDefaults.Health;

/// <summary>
/// Liveness (<c>/healthz</c>) asks only whether the process can answer; readiness (<c>/readyz</c>) runs every
/// registered check — PostgreSQL, Redis, Kafka, and whether the service is draining.
/// </summary>
public static class HealthProbes
{
    public const string LivenessPath = "/healthz";
    public const string ReadinessPath = "/readyz";
    public const string LiveTag = "live";

    public static void AddHealthProbes(this IHostApplicationBuilder builder)
    {
        builder.Services.AddSingleton<DrainState>();
        builder.Services.AddHealthChecks()
            .AddCheck("self", () => HealthCheckResult.Healthy(), [LiveTag])
            .AddCheck<DrainHealthCheck>("draining");
    }

    /// <summary>Answers <see cref="LivenessPath"/> and <see cref="ReadinessPath"/> (on the management port's branch,
    /// see <see cref="ManagementPort"/>).</summary>
    internal static void UseHealthProbes(this IApplicationBuilder app)
    {
        app.UseHealthChecks(LivenessPath, new HealthCheckOptions
        {
            Predicate = registration => registration.Tags.Contains(LiveTag),
            ResponseWriter = WriteReportAsync,
        });
        app.UseHealthChecks(ReadinessPath, new HealthCheckOptions
        {
            ResponseWriter = WriteReportAsync,
        });
    }

    // A short JSON body that says which dependency is failing, without exception detail.
    private static Task WriteReportAsync(HttpContext context, HealthReport report)
    {
        context.Response.ContentType = "application/json; charset=utf-8";
        var body = new Dictionary<string, object>
        {
            ["status"] = report.Status.ToString(),
            ["checks"] = report.Entries.ToDictionary(
                entry => entry.Key,
                entry => new { status = entry.Value.Status.ToString(), description = entry.Value.Description }),
        };
        return context.Response.WriteAsync(JsonSerializer.Serialize(body));
    }
}
