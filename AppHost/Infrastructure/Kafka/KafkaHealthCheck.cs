using Confluent.Kafka;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Herald.AppHost.Infrastructure.Kafka;

/// <summary>Healthy when a broker answers a metadata request — the same question the services' readiness asks.</summary>
internal sealed class KafkaHealthCheck(Func<string?> bootstrapServers) : IHealthCheck, IDisposable
{
    private IAdminClient? _admin;

    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var servers = bootstrapServers();
        if (servers is null) return HealthCheckResult.Unhealthy("The broker addresses are not known yet.");
        _admin ??= new AdminClientBuilder(new AdminClientConfig { BootstrapServers = servers, ClientId = "herald-apphost" })
            .SetLogHandler((_, _) => { })
            .Build();
        try
        {
            var metadata = await Task.Run(() => _admin.GetMetadata(TimeSpan.FromSeconds(3)), cancellationToken);
            return metadata.Brokers.Count > 0 ? HealthCheckResult.Healthy() : HealthCheckResult.Unhealthy("No broker answered.");
        }
        catch (KafkaException exception)
        {
            return HealthCheckResult.Unhealthy(exception.Error.Reason);
        }
    }

    public void Dispose() => _admin?.Dispose();
}

public static class KafkaHealthCheckExtensions
{
    public static IResourceBuilder<T> WithKafkaHealthCheck<T>(this IResourceBuilder<T> kafka) where T : IResourceWithConnectionString
    {
        string? connectionString = null;
        kafka.ApplicationBuilder.Eventing.Subscribe<ConnectionStringAvailableEvent>(kafka.Resource, async (_, ct) =>
            connectionString = await kafka.Resource.ConnectionStringExpression.GetValueAsync(ct));

        // One check instance for the AppHost's life, so one admin client is reused across probes.
        var key = $"{kafka.Resource.Name}_check";
        var check = new KafkaHealthCheck(() => connectionString);
        kafka.ApplicationBuilder.Services.AddSingleton(check);
        kafka.ApplicationBuilder.Services.AddHealthChecks().Add(new HealthCheckRegistration(key, _ => check, failureStatus: null, tags: null));
        return kafka.WithHealthCheck(key);
    }
}
