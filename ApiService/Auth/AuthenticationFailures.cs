using System.Collections.Concurrent;
using System.Net;
using Herald.ServiceDefaults.Redis;
using Microsoft.Extensions.Options;

namespace Herald.ApiService.Auth;

/// <summary>
/// Failed authentications per client address (<see cref="AuthOptions.FailuresPerSecond"/>), counted with the same
/// shared per-second leases as the per-key rate limit. An address past its count is refused until that second ends
/// (<see cref="RetryAfter"/>), which bounds what guessing or a flood of bad keys can cost.
/// </summary>
public sealed class AuthenticationFailures(RateLimitLeases leases, IOptionsMonitor<AuthOptions> options, TimeProvider time)
{
    // Entries outlive their second by at most one sweep; swept once this many addresses are held.
    private const int SweepThreshold = 10_000;

    private readonly ConcurrentDictionary<string, DateTimeOffset> _refusedUntil = new(StringComparer.Ordinal);

    /// <summary>How long the address stays refused; null when it is not.</summary>
    public TimeSpan? RetryAfter(IPAddress? address)
    {
        if (options.CurrentValue.FailuresPerSecond <= 0 || !_refusedUntil.TryGetValue(Key(address), out var until)) return null;
        var left = until - time.GetUtcNow();
        return left > TimeSpan.Zero ? left : null;
    }

    public async Task CountAsync(IPAddress? address)
    {
        var limit = options.CurrentValue.FailuresPerSecond;
        if (limit <= 0) return;
        var key = Key(address);
        if (await leases.AcquireAsync(key, limit) is not { } retryAfter) return;
        if (_refusedUntil.Count >= SweepThreshold)
        {
            var now = time.GetUtcNow();
            foreach (var (stale, until) in _refusedUntil)
            {
                if (until <= now) _refusedUntil.TryRemove(stale, out _);
            }
        }
        _refusedUntil[key] = time.GetUtcNow() + retryAfter;
    }

    private static string Key(IPAddress? address) => "auth-failures:" + (address?.IsIPv4MappedToIPv6 == true ? address.MapToIPv4() : address);
}
