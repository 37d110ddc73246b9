using Herald.ApiService.Auth;
using Herald.ApiService.Problems;
using Herald.ServiceDefaults.Redis;
using Microsoft.Extensions.Options;

namespace Herald.ApiService.RateLimiting;

/// <summary>Configuration section <c>Herald:RateLimit</c>.</summary>
public sealed class RateLimitOptions
{
    public const string Section = "Herald:RateLimit";

    /// <summary>Requests per second one API key may make, across all API replicas.</summary>
    public int RequestsPerSecond { get; set; } = 1000;
}

/// <summary>Refuses a request over its API key's per-second limit with 429 and Retry-After (the next window). The
/// count is shared by all API replicas; see <see cref="RateLimitLeases"/> for how, and how exact it is.</summary>
internal sealed class ApiKeyRateLimiter(RequestDelegate next, RateLimitLeases leases, IOptionsMonitor<RateLimitOptions> options)
{
    public async Task InvokeAsync(HttpContext context)
    {
        if (Caller.From(context.User) is { } caller
            && await leases.AcquireAsync(caller.KeyId, options.CurrentValue.RequestsPerSecond) is { } retryAfter)
        {
            throw new ApiError(ApiErrorKind.RateLimited, $"Rate limit exceeded: {options.CurrentValue.RequestsPerSecond} requests per second per API key.")
            {
                RetryAfter = retryAfter,
            };
        }
        await next(context);
    }
}
