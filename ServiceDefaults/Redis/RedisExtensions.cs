using Herald.ServiceDefaults.Health;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using StackExchange.Redis;

namespace Herald.ServiceDefaults.Redis;

public static class RedisExtensions
{
    public const string ConnectionName = "redis";

    /// <summary>Commands to Redis answer within this or fail; Redis itself answers in microseconds.</summary>
    public static readonly TimeSpan CommandTimeout = TimeSpan.FromSeconds(1);

    /// <summary>
    /// The Redis client (Aspire.StackExchange.Redis), and Redis as an optional dependency: Herald keeps only
    /// shared counters and notifications there (rate limits, circuit breakers, live outcomes, cache invalidation), so
    /// every service serves without it, each hot path falling back to state of its own (see the README).
    /// </summary>
    public static void AddHeraldRedis(this IHostApplicationBuilder builder)
    {
        builder.AddRedisClient(ConnectionName,
            // Readiness reads the dependency monitor instead of pinging per probe.
            settings => settings.DisableHealthChecks = true,
            options =>
            {
                // While disconnected, fail at once instead of queueing commands until they time out (the default made
                // every request wait ~5 s while Redis was down).
                options.BacklogPolicy = BacklogPolicy.FailFast;
                options.AbortOnConnectFail = false;
                options.ConnectTimeout = (int)CommandTimeout.TotalMilliseconds;
                options.AsyncTimeout = (int)CommandTimeout.TotalMilliseconds;
                options.SyncTimeout = (int)CommandTimeout.TotalMilliseconds;
            });
        builder.Services.AddSingleton<RedisNotices>();
        builder.Services.AddSingleton<EndpointBreakers>();
        builder.AddDependency(Dependencies.Redis, DependencyRole.Optional,
            async (services, _) => await services.GetRequiredService<IConnectionMultiplexer>().GetDatabase().PingAsync());
    }
}
