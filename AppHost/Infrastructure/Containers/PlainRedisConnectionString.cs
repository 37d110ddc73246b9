namespace Herald.AppHost.Infrastructure.Containers;

/// <summary>
/// Aspire 13.6 ends Redis's connection string with a conditional (<c>,ssl=true</c> only when the endpoint has TLS). The
/// manifest cannot express a condition, so it evaluates it once at publish time and writes the result as an extra
/// <c>value.v0</c> resource named <c>cond-redis-bindings-tcp-tlsenabled-…</c> — always empty, because nothing enables TLS on
/// a published Redis endpoint. That resource is noise to azd and aspirate, so when publishing the connection string is
/// redirected to the same expression without the condition: <c>{host}:{port},password={redis-password}</c>.
/// Running (where Aspire may turn TLS on before start) keeps Aspire's own expression.
/// </summary>
public static class PlainRedisConnectionString
{
    public static IResourceBuilder<RedisResource> WithPlainConnectionStringWhenPublishing(this IResourceBuilder<RedisResource> redis) =>
        redis.ApplicationBuilder.ExecutionContext.IsPublishMode
            ? redis.WithConnectionStringRedirection(new PublishedRedis(redis.Resource))
            : redis;

    /// <summary>Not added to the model: it only supplies <c>redis</c>'s connection string expression.</summary>
    private sealed class PublishedRedis(RedisResource redis) : Resource($"{redis.Name}-published"), IResourceWithConnectionString
    {
        public ReferenceExpression ConnectionStringExpression => redis.PasswordParameter is { } password
            ? ReferenceExpression.Create($"{redis.PrimaryEndpoint.Property(EndpointProperty.HostAndPort)},password={password}")
            : ReferenceExpression.Create($"{redis.PrimaryEndpoint.Property(EndpointProperty.HostAndPort)}");
    }
}
