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
/// A fixed one-second window per API key, counted in Redis so every API replica shares it. INCR and EXPIRE go out
/// as one pipelined batch: one round trip per request.
/// </summary>
internal sealed class ApiKeyRateLimiter(
    RequestDelegate next,
    IConnectionMultiplexer redis,
    IOptionsMonitor<RateLimitOptions> options,
    TimeProvider time,
    ILogger<ApiKeyRateLimiter> logger)
{
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
            var batch = redis.GetDatabase().CreateBatch();
            var count = batch.StringIncrementAsync(key);
            var expire = batch.KeyExpireAsync(key, TimeSpan.FromSeconds(2), flags: CommandFlags.FireAndForget);
            batch.Execute();
            if (await count <= options.CurrentValue.RequestsPerSecond) return null;
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
