using Herald.ApiService.Auth;
using Herald.ApiService.Problems;
using Herald.ServiceDefaults.Redis;
using Microsoft.Extensions.Options;

namespace Herald.ApiService.RateLimiting;

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
