using Herald.ApiService.Auth;
using Herald.ApiService.Problems;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace Herald.ApiService.RateLimiting;

/// <summary>Configuration section <c>Herald:RateLimit</c>.</summary>
public sealed class RateLimitOptions
{
    public const string Section = "Herald:RateLimit";

    /// <summary>Requests per second one API key may make, across all API replicas.</summary>
    public int RequestsPerSecond { get; set; } = 1000;
}

/// <summary>
/// A fixed one-second window per API key, counted in Redis so every API replica shares it: one script call per
/// request increments the window's counter and, for its first hit, sets its expiry — one round trip, atomic.
/// </summary>
internal sealed class ApiKeyRateLimiter(
    RequestDelegate next,
    IConnectionMultiplexer redis,
    IOptionsMonitor<RateLimitOptions> options,
    TimeProvider time,
    ILogger<ApiKeyRateLimiter> logger)
{
    // Loaded once; StackExchange.Redis sends EVALSHA and falls back to EVAL if the server lost the script.
    private static readonly LuaScript CountScript = LuaScript.Prepare(
        "local n = redis.call('INCR', @key) if n == 1 then redis.call('EXPIRE', @key, 2) end return n");

    public async Task InvokeAsync(HttpContext context)
    {
        if (Caller.From(context.User) is { } caller && await IsOverLimitAsync(caller) is { } retryAfter)
        {
            throw new ApiError(ApiErrorKind.RateLimited, $"Rate limit exceeded: {options.CurrentValue.RequestsPerSecond} requests per second per API key.")
            {
                RetryAfter = retryAfter,
            };
        }
        await next(context);
    }

    private async Task<TimeSpan?> IsOverLimitAsync(Caller caller)
    {
        var now = time.GetUtcNow();
        var window = now.ToUnixTimeSeconds();
        var key = $"herald:ratelimit:{caller.KeyId}:{window}";
        try
        {
            var count = (long)await CountScript.EvaluateAsync(redis.GetDatabase(), new { key = (RedisKey)key });
            if (count <= options.CurrentValue.RequestsPerSecond) return null;
            return DateTimeOffset.FromUnixTimeSeconds(window + 1) - now;
        }
        catch (RedisException exception)
        {
            // Limits protect the service; an unreachable Redis must not take the API down with it (readiness reports it).
            logger.LogWarning("Rate limit not checked: {Reason}", exception.Message);
            return null;
        }
    }
}
