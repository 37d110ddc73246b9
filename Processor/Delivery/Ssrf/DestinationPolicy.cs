using System.Net;
using System.Net.Sockets;

namespace Herald.Processor.Delivery.Ssrf;

/// <summary>
/// Decides whether delivery may connect to an address: anything globally reachable, nothing in
/// <see cref="NonGlobalRanges"/>, unless an allowed network (<c>Herald:Delivery:AllowedNetworks</c>) contains it.
/// </summary>
public sealed class DestinationPolicy(IEnumerable<IPNetwork> allowedNetworks)
{
    private readonly IPNetwork[] _allowed = [.. allowedNetworks];

    /// <summary>No exceptions: the production default.</summary>
    public static DestinationPolicy Strict { get; } = new([]);

    /// <summary>Parses CIDR strings (validated at start-up by <see cref="AllowedNetworksValidation"/>).</summary>
    public static DestinationPolicy FromSettings(IEnumerable<string> allowedNetworks) =>
        new(allowedNetworks.Select(cidr => TryParseNetwork(cidr, out var network)
            ? network
            : throw new FormatException($"'{cidr}' is not a CIDR network.")));

    /// <summary>A CIDR network written exactly: "10.0.0.5/8" is refused rather than read as 10.0.0.0/8, because whoever
    /// wrote it may have meant one host, and an allow-list must not silently grow. An IPv4-mapped network
    /// (::ffff:10.0.0.0/104) is refused too: addresses are judged as the IPv4 hosts they map to, so it would never match
    /// and the list would silently allow less than it says.</summary>
    public static bool TryParseNetwork(string? cidr, out IPNetwork network)
    {
        var text = cidr?.Trim() ?? "";
        var slash = text.IndexOf('/', StringComparison.Ordinal);
        return IPNetwork.TryParse(text, out network)
            && slash > 0
            && IPAddress.TryParse(text.AsSpan(0, slash), out var written)
            && written.Equals(network.BaseAddress)
            && !written.IsIPv4MappedToIPv6;
    }

    public bool Allows(IPAddress address) => Refusal(address) is null;

    /// <summary>Null when delivery may connect to the address; otherwise why not.</summary>
    public string? Refusal(IPAddress address)
    {
        // A dual-stack socket reaches an IPv4-mapped address over IPv4: it is that IPv4 host, allow-list included.
        if (address.IsIPv4MappedToIPv6) address = address.MapToIPv4();
        foreach (var network in _allowed)
        {
            if (network.Contains(address)) return null;
        }

        switch (address.AddressFamily)
        {
            case AddressFamily.InterNetwork:
                return NonGlobalRanges.Find(address)?.Purpose;
            case AddressFamily.InterNetworkV6:
                // NAT64 and 6to4 carry the packet to the embedded IPv4 address, so that address is what is judged.
                if (EmbeddedIPv4(address) is (var form, var embedded))
                {
                    return NonGlobalRanges.Find(embedded)?.Purpose is { } purpose ? $"{form} of {embedded}, {purpose}" : null;
                }
                if (NonGlobalRanges.Find(address) is { } range) return range.Purpose;
                return NonGlobalRanges.IPv6GlobalUnicast.Contains(address) ? null : "outside IPv6 global unicast (2000::/3)";
            default:
                return "not an IP address";
        }
    }

    private static (string Form, IPAddress Address)? EmbeddedIPv4(IPAddress address)
    {
        var bytes = address.GetAddressBytes();
        // RFC 6052 /96 layout: the IPv4 address is the last 32 bits.
        if (NonGlobalRanges.Nat64WellKnown.Contains(address)) return ("NAT64", new IPAddress(bytes.AsSpan(12, 4)));
        if (NonGlobalRanges.Nat64LocalUse.Contains(address)) return ("local-use NAT64", new IPAddress(bytes.AsSpan(12, 4)));
        // RFC 3056: 2002:AABB:CCDD::/48 is the site behind IPv4 address AA.BB.CC.DD.
        if (NonGlobalRanges.SixToFour.Contains(address)) return ("6to4", new IPAddress(bytes.AsSpan(2, 4)));
        return null;
    }
}
