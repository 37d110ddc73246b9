using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace Herald.Processor.Delivery;

/// <summary>Whether an attempt may go to its endpoint now.</summary>
public readonly record struct Admission(AdmissionKind Kind, TimeSpan Wait)
{
    public bool Allowed => Kind is AdmissionKind.Allowed or AdmissionKind.Probe;
}

public enum AdmissionKind
{
    Allowed,
    /// <summary>The breaker is open (or another probe is out): defer for <see cref="Admission.Wait"/>.</summary>
    BreakerOpen,
    /// <summary>The breaker is half-open and this attempt is its one probe.</summary>
    Probe,
    /// <summary>The endpoint's deliveries/s are used up: try again after <see cref="Admission.Wait"/>.</summary>
    RateLimited,
}

public enum BreakerChange
{
    None,
    Opened,
    Closed,
}

/// <summary>
/// The per-endpoint circuit breaker and rate limit, kept in Redis so every Processor replica shares them. Each
/// decision is one Lua script — one round trip, atomic — and StackExchange.Redis pipelines concurrent calls on its
/// single connection. Losing Redis state (a flush) only closes breakers and resets limits; what is due lives in
/// PostgreSQL.
/// </summary>
public sealed class EndpointGate(IConnectionMultiplexer redis, IOptions<DeliveryOptions> options, TimeProvider time)
{
    // KEYS: breaker hash, rate counter for this second. ARGV: now (ms), limit per second (0 = none), probe timeout (ms).
    private static readonly LuaScript Admit = LuaScript.Prepare("""
        local now = tonumber(@now)
        local breaker = redis.call('HMGET', @breaker, 'state', 'until')
        if breaker[1] then
          local untilMs = tonumber(breaker[2])
          if now < untilMs then return {1, untilMs - now} end
          redis.call('HSET', @breaker, 'state', 'half', 'until', now + tonumber(@probeTimeout))
          return {2, 0}
        end
        local limit = tonumber(@limit)
        if limit > 0 then
          local used = redis.call('INCR', @rate)
          if used == 1 then redis.call('PEXPIRE', @rate, 2000) end
          if used > limit then return {3, 1000 - (now % 1000)} end
        end
        return {0, 0}
        """);

    // Counts the outcome in the current window and opens, re-opens or closes the breaker. Returns 1 opened, 2 closed.
    private static readonly LuaScript Report = LuaScript.Prepare("""
        local now = tonumber(@now)
        local state = redis.call('HGET', @breaker, 'state')
        if @succeeded == '1' then
          if state == 'half' then redis.call('DEL', @breaker, @window) return 2 end
          if state then return 0 end
          redis.call('HINCRBY', @window, 'total', 1)
          if redis.call('PTTL', @window) < 0 then redis.call('PEXPIRE', @window, @windowMs) end
          return 0
        end
        if state == 'half' then
          if @probe == '1' then
            redis.call('HSET', @breaker, 'state', 'open', 'until', now + tonumber(@breakMs))
            return 1
          end
          return 0
        end
        if state then return 0 end
        local total = redis.call('HINCRBY', @window, 'total', 1)
        local failed = redis.call('HINCRBY', @window, 'failed', 1)
        if redis.call('PTTL', @window) < 0 then redis.call('PEXPIRE', @window, @windowMs) end
        if total >= tonumber(@minimum) and failed * 100 >= total * tonumber(@percent) then
          redis.call('HSET', @breaker, 'state', 'open', 'until', now + tonumber(@breakMs))
          redis.call('DEL', @window)
          return 1
        end
        return 0
        """);

    public async Task<Admission> AdmitAsync(EndpointTarget endpoint)
    {
        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        var result = (RedisResult[])(await redis.GetDatabase().ScriptEvaluateAsync(Admit, new
        {
            breaker = BreakerKey(endpoint.Id),
            rate = (RedisKey)$"herald:endpoint:{{{endpoint.Id}}}:rate:{now / 1000}",
            now,
            limit = endpoint.RateLimit ?? 0,
            // A probe that never reports (its Processor died) frees the half-open slot after one request timeout.
            probeTimeout = (long)(options.Value.RequestTimeout.TotalMilliseconds + 1000),
        }))!;
        return new Admission((AdmissionKind)(int)result[0], TimeSpan.FromMilliseconds((long)result[1]));
    }

    public async Task<BreakerChange> ReportAsync(EndpointTarget endpoint, bool succeeded, bool probe)
    {
        var breaker = options.Value.CircuitBreaker;
        var result = await redis.GetDatabase().ScriptEvaluateAsync(Report, new
        {
            breaker = BreakerKey(endpoint.Id),
            window = (RedisKey)$"herald:endpoint:{{{endpoint.Id}}}:window",
            now = time.GetUtcNow().ToUnixTimeMilliseconds(),
            succeeded = succeeded ? "1" : "0",
            probe = probe ? "1" : "0",
            minimum = breaker.MinimumAttempts,
            percent = breaker.FailurePercent,
            windowMs = (long)breaker.Window.TotalMilliseconds,
            breakMs = (long)breaker.BreakDuration.TotalMilliseconds,
        });
        return (BreakerChange)(int)result;
    }

    // The {id} hash tag keeps one endpoint's keys in one slot, as Redis Cluster requires for a script.
    private static RedisKey BreakerKey(string endpointId) => $"herald:endpoint:{{{endpointId}}}:breaker";
}
