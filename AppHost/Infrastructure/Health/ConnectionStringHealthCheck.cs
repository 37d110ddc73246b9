using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Herald.AppHost.Infrastructure.Health;

public static class ConnectionStringHealthCheckExtensions
{
    /// <summary>
    /// Gives the resource a health check (<c>{name}_check</c>) built from its connection string, the one way every resource
    /// the AppHost runs itself (local servers, the embedded broker, the Kafka container) is checked. Until the connection
    /// string is known the resource is unhealthy.
    /// </summary>
    /// <param name="create">Builds the check for a connection string; called again only if the string changes.</param>
    public static IResourceBuilder<T> WithConnectionStringHealthCheck<T>(this IResourceBuilder<T> resource, Func<string, IHealthCheck> create)
        where T : IResourceWithConnectionString
    {
        var check = new ConnectionStringHealthCheck(create);
        resource.ApplicationBuilder.Eventing.Subscribe<ConnectionStringAvailableEvent>(resource.Resource, async (_, ct) =>
            check.ConnectionString = await resource.Resource.ConnectionStringExpression.GetValueAsync(ct));

        var key = $"{resource.Resource.Name}_check";
        resource.ApplicationBuilder.Services.AddHealthChecks().Add(new HealthCheckRegistration(key, _ => check, failureStatus: null, tags: null));
        return resource.WithHealthCheck(key);
    }

    /// <summary>One instance per resource, so a check that holds a client (Kafka's admin client) keeps it across probes.</summary>
    private sealed class ConnectionStringHealthCheck(Func<string, IHealthCheck> create) : IHealthCheck
    {
        private readonly Lock _gate = new();
        private (string ConnectionString, IHealthCheck Check)? _current;

        public volatile string? ConnectionString;

        public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
        {
            var connectionString = ConnectionString;
            if (connectionString is null) return Task.FromResult(HealthCheckResult.Unhealthy("The connection string is not available yet."));
            IHealthCheck check;
            lock (_gate)
            {
                if (_current?.ConnectionString != connectionString)
                {
                    (_current?.Check as IDisposable)?.Dispose();
                    _current = (connectionString, create(connectionString));
                }
                check = _current.Value.Check;
            }
            return check.CheckHealthAsync(context, cancellationToken);
        }
    }
}
