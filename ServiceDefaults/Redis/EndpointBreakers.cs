using Herald.ServiceDefaults.Health;
using StackExchange.Redis;

namespace Herald.ServiceDefaults.Redis;

/// <summary>
/// Where the circuit breakers of endpoints live in Redis: the Processor's EndpointGate opens and closes them; the API
/// reads them to show which endpoints are failing. A hash per endpoint: <c>state</c> (<c>open</c>, or <c>half</c> while
/// one probe is out) and <c>until</c> (Unix milliseconds the break ends).
/// </summary>
public sealed class EndpointBreakers(IConnectionMultiplexer redis, Dependencies dependencies)
{
    // The {id} hash tag keeps one endpoint's keys in one slot, as Redis Cluster requires for a script.
    public static RedisKey BreakerKey(string endpointId) => $"herald:endpoint:{{{endpointId}}}:breaker";

    public static RedisKey WindowKey(string endpointId) => $"herald:endpoint:{{{endpointId}}}:window";

    private readonly Dependency _redis = dependencies[Dependencies.Redis];

    /// <summary>The endpoints among <paramref name="endpointIds"/> whose breaker is open, and until when. What is only
    /// shown: while Redis is unavailable (or slow) it answers none rather than failing the caller.</summary>
    public async Task<IReadOnlyDictionary<string, DateTimeOffset>> OpenAsync(IReadOnlyList<string> endpointIds)
    {
        var open = new Dictionary<string, DateTimeOffset>(StringComparer.Ordinal);
        if (endpointIds.Count == 0 || !_redis.IsAvailable) return open;
        var database = redis.GetDatabase();
        var reads = endpointIds.Select(id => database.HashGetAsync(BreakerKey(id), "until")).ToArray();
        try
        {
            await Task.WhenAll(reads).WaitAsync(RedisNotices.Timeout);
        }
        catch (Exception e) when (e is RedisException or TimeoutException)
        {
            return open;
        }
        for (var i = 0; i < endpointIds.Count; i++)
        {
            if (reads[i].Result is { HasValue: true } until && (long)until is var ms && ms > DateTimeOffset.UtcNow.ToUnixTimeMilliseconds())
                open[endpointIds[i]] = DateTimeOffset.FromUnixTimeMilliseconds(ms);
        }
        return open;
    }
}
