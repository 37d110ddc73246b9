using System.Net;

namespace Herald.Processor.Delivery.Ssrf;

/// <summary>Delivery refused to connect: the endpoint's host is, or resolves to, an address it must not reach.
/// The message names the host, the address and why; never the URL's path or query, which may carry secrets.</summary>
public sealed class BlockedDestinationException(string host, IPAddress address, string reason)
    : Exception($"Refused to connect to {host}: {address} is {reason}. Allow it with Herald:Delivery:AllowedNetworks if it is intended.")
{
    public string Host { get; } = host;

    public IPAddress Address { get; } = address;

    public string Reason { get; } = reason;
}
