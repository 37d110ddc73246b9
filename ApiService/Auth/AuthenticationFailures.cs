using System.Net;
using Herald.ServiceDefaults.Redis;
using Microsoft.Extensions.Options;

namespace Herald.ApiService.Auth;

/// <summary>
/// Failed authentications per client address (<see cref="AuthOptions.FailuresPerSecond"/>), counted with the same
/// shared per-second leases as the per-key rate limit. An address whose count was exceeded is refused until that second
/// ends (<see cref="RetryAfter"/>), which bounds what guessing or a flood of bad keys can cost.
/// </summary>
public sealed class AuthenticationFailures(RateLimitLeases leases, IOptionsMonitor<AuthOptions> options)
{
    /// <summary>How long the address stays refused; null when it is not.</summary>
    public TimeSpan? RetryAfter(IPAddress? address) =>
        options.CurrentValue.FailuresPerSecond is > 0 and var limit ? leases.RefusedFor(Key(address), limit) : null;

    public async Task CountAsync(IPAddress? address)
    {
        if (options.CurrentValue.FailuresPerSecond is > 0 and var limit) await leases.AcquireAsync(Key(address), limit);
    }

    private static string Key(IPAddress? address) => "auth-failures:" + (address?.IsIPv4MappedToIPv6 == true ? address.MapToIPv4() : address);
}
