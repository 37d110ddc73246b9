using Confluent.Kafka;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Herald.ServiceDefaults.Kafka;

/// <summary>Ready when a broker answers a metadata request.</summary>
internal sealed class KafkaHealthCheck(IAdminClient admin) : IHealthCheck
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(3);

    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        try
        {
            // GetMetadata blocks the calling thread; keep it off the request thread.
            var metadata = await Task.Run(() => admin.GetMetadata(Timeout), cancellationToken);
            return metadata.Brokers.Count > 0
                ? HealthCheckResult.Healthy($"{metadata.Brokers.Count} broker(s)")
                : HealthCheckResult.Unhealthy("No Kafka broker is known.");
        }
        catch (KafkaException exception)
        {
            return HealthCheckResult.Unhealthy($"Kafka is unreachable: {exception.Error.Reason}");
        }
    }
}
