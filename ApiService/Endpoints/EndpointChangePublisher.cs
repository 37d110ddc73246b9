using Herald.Deliveries;
using StackExchange.Redis;

namespace Herald.ApiService.Endpoints;

/// <summary>Announces a committed endpoint change on <see cref="EndpointChanges.Channel"/>, so Processors drop their
/// cached copy at once instead of at expiry.</summary>
public sealed class EndpointChangePublisher(IConnectionMultiplexer redis, ILogger<EndpointChangePublisher> logger)
{
    // Short: the change is committed and the client is waiting; a Processor's cache expiry covers a lost notice.
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(2);

    private static readonly RedisChannel Channel = RedisChannel.Literal(EndpointChanges.Channel);

    /// <summary>Best effort: never throws, logs a failure.</summary>
    public async Task PublishAsync(string endpointId)
    {
        try
        {
            await redis.GetSubscriber().PublishAsync(Channel, endpointId).WaitAsync(Timeout);
        }
        catch (Exception exception) when (exception is RedisException or TimeoutException or ObjectDisposedException)
        {
            logger.LogWarning("Endpoint change of {EndpointId} not announced; Processors see it when their cache expires: {Reason}",
                endpointId, exception.Message);
        }
    }
}
