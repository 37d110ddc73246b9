using System.Net;

namespace Herald.Processor.Delivery.Ssrf;

/// <summary>A block of addresses delivery never connects to, and why.</summary>
public sealed record BlockedRange(IPNetwork Network, string Purpose);

/// <summary>
/// The blocks of the IANA IPv4 and IPv6 Special-Purpose Address Registries that are not globally reachable, plus
/// multicast, reserved and deprecated space. Anything in them is the delivering host's own network, a cloud's
/// metadata service, or nowhere at all — never a customer's endpoint.
/// </summary>
public static class NonGlobalRanges
{
    public static IReadOnlyList<BlockedRange> IPv4 { get; } =
    [
        Range("0.0.0.0/8", "\"this network\" (Linux connects 0.0.0.0 to the local host)"),
        Range("10.0.0.0/8", "private-use"),
        Range("100.64.0.0/10", "shared address space (carrier-grade NAT)"),
        Range("127.0.0.0/8", "loopback"),
        Range("169.254.0.0/16", "link-local (cloud metadata services live here)"),
        Range("172.16.0.0/12", "private-use"),
        // Whole /24: its globally reachable anycast members (192.0.0.9, 192.0.0.10) are never webhook receivers.
        Range("192.0.0.0/24", "IETF protocol assignments"),
        Range("192.0.2.0/24", "documentation (TEST-NET-1)"),
        Range("192.88.99.0/24", "deprecated 6to4 relay anycast"),
        Range("192.168.0.0/16", "private-use"),
        Range("198.18.0.0/15", "benchmarking"),
        Range("198.51.100.0/24", "documentation (TEST-NET-2)"),
        Range("203.0.113.0/24", "documentation (TEST-NET-3)"),
        Range("224.0.0.0/4", "multicast"),
        Range("255.255.255.255/32", "limited broadcast"),
        Range("240.0.0.0/4", "reserved"),
    ];

    /// <summary>Blocks inside or beside IPv6 global unicast. Addresses that embed an IPv4 address (IPv4-mapped,
    /// NAT64, 6to4) are judged by that address instead; see <see cref="DestinationPolicy"/>.</summary>
    public static IReadOnlyList<BlockedRange> IPv6 { get; } =
    [
        Range("::/128", "unspecified"),
        Range("::1/128", "loopback"),
        // Deprecated (RFC 4291); some stacks still tunnel them to the embedded IPv4 address.
        Range("::/96", "IPv4-compatible (deprecated)"),
        // Where the IPv4 address sits depends on the prefix length the operator chose; only its /96 is judged by it.
        Range("64:ff9b:1::/48", "local-use IPv4/IPv6 translation"),
        Range("100::/64", "discard-only"),
        Range("100:0:0:1::/64", "dummy IPv6 prefix"),
        // Whole /23, Teredo (2001::/32) included: its globally reachable anycast members are never webhook receivers.
        Range("2001::/23", "IETF protocol assignments"),
        Range("2001:db8::/32", "documentation"),
        Range("3fff::/20", "documentation"),
        Range("5f00::/16", "segment routing (SRv6) SIDs"),
        Range("fc00::/7", "unique local (includes AWS metadata fd00:ec2::254)"),
        Range("fe80::/10", "link-local"),
        Range("fec0::/10", "site-local (deprecated)"),
        Range("ff00::/8", "multicast"),
    ];

    /// <summary>The only IPv6 space allocated for global unicast; everything outside it is reserved or special.</summary>
    public static IPNetwork IPv6GlobalUnicast { get; } = IPNetwork.Parse("2000::/3");

    public static IPNetwork Nat64WellKnown { get; } = IPNetwork.Parse("64:ff9b::/96");

    public static IPNetwork Nat64LocalUse { get; } = IPNetwork.Parse("64:ff9b:1::/96");

    public static IPNetwork SixToFour { get; } = IPNetwork.Parse("2002::/16");

    /// <summary>The first block containing the address, or null.</summary>
    public static BlockedRange? Find(IPAddress address)
    {
        var ranges = address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork ? IPv4 : IPv6;
        foreach (var range in ranges)
        {
            if (range.Network.Contains(address)) return range;
        }
        return null;
    }

    private static BlockedRange Range(string cidr, string purpose) => new(IPNetwork.Parse(cidr), purpose);
}
