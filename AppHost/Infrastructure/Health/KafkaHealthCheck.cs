using Confluent.Kafka;
using Herald.ServiceDefaults.Kafka;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Herald.AppHost.Infrastructure.Health;

/// <summary>Healthy when a broker answers a metadata request, asked through <see cref="KafkaProbe"/> as the services'
/// readiness asks it. Used by both Kafka resources: the embedded broker (local mode) and the container.</summary>
internal sealed class KafkaHealthCheck(string bootstrapServers) : IHealthCheck, IDisposable
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(3);

    private readonly IAdminClient _admin = new AdminClientBuilder(new AdminClientConfig { BootstrapServers = bootstrapServers, ClientId = "herald-apphost" })
        .SetLogHandler((_, _) => { })
        .Build();

    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        try
        {
            var metadata = await KafkaProbe.MetadataAsync(_admin, topic: null, Timeout, cancellationToken);
            return metadata.Brokers.Count > 0 ? HealthCheckResult.Healthy() : HealthCheckResult.Unhealthy("No broker answered.");
        }
        catch (KafkaException exception)
        {
            return HealthCheckResult.Unhealthy(exception.Error.Reason);
        }
    }

    public void Dispose() => _admin.Dispose();
}

public static class KafkaHealthCheckExtensions
{
    public static IResourceBuilder<T> WithKafkaHealthCheck<T>(this IResourceBuilder<T> kafka) where T : IResourceWithConnectionString =>
        kafka.WithConnectionStringHealthCheck(bootstrapServers => new KafkaHealthCheck(bootstrapServers));
}
