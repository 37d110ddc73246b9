using Herald.ServiceDefaults.Health;
using Microsoft.Extensions.Logging;
using StackExchange.Redis;

namespace Herald.ServiceDefaults.Redis;

/// <summary>
/// Best-effort announcements on Redis pub/sub (endpoint changes, live delivery outcomes): what is announced is already
/// committed in PostgreSQL, and every listener has another way to learn it (a cache expiry, the attempts list). So an
/// announcement never throws and never holds its caller up: skipped at once while Redis is known to be down, and
/// abandoned after <see cref="Timeout"/> otherwise.
/// </summary>
public sealed class RedisNotices(IConnectionMultiplexer redis, Dependencies dependencies, ILogger<RedisNotices> logger)
{
    public static readonly TimeSpan Timeout = TimeSpan.FromMilliseconds(250);

    private readonly Dependency _redis = dependencies[Dependencies.Redis];

    /// <summary>Fire and forget, for announcements on a hot path: nothing waits for Redis at all.</summary>
    public void Publish(string channel, RedisValue message)
    {
        if (!_redis.IsAvailable) return;
        try
        {
            redis.GetSubscriber().Publish(RedisChannel.Literal(channel), message, CommandFlags.FireAndForget);
        }
        catch (Exception exception) when (exception is RedisException or TimeoutException or ObjectDisposedException)
        {
            if (exception is not ObjectDisposedException) _redis.ReportFailure(exception.Message);
            logger.LogDebug("Not announced on {Channel}: {Reason}", channel, exception.Message);
        }
    }

    public async Task PublishAsync(string channel, RedisValue message)
    {
        if (!_redis.IsAvailable)
        {
            logger.LogDebug("Not announced on {Channel} while Redis is unavailable", channel);
            return;
        }
        try
        {
            await redis.GetSubscriber().PublishAsync(RedisChannel.Literal(channel), message).WaitAsync(Timeout);
        }
        catch (Exception exception) when (exception is RedisException or TimeoutException or ObjectDisposedException)
        {
            if (exception is not ObjectDisposedException) _redis.ReportFailure(exception.Message);
            logger.LogWarning("Not announced on {Channel}: {Reason}", channel, exception.Message);
        }
    }
}
