using System.Net;
using System.Net.Sockets;

namespace Herald.Processor.Delivery.Ssrf;

/// <summary>Resolves a host name to its addresses (<see cref="Dns.GetHostAddressesAsync(string, CancellationToken)"/>
/// in production; tests substitute their own).</summary>
public delegate Task<IPAddress[]> HostResolver(string host, CancellationToken cancellationToken);

/// <summary>
/// The delivery client's <see cref="SocketsHttpHandler.ConnectCallback"/>: resolves the host once, refuses it if any
/// address is blocked by the <see cref="DestinationPolicy"/>, and connects to the very addresses it checked, so a
/// second resolution (DNS rebinding) cannot swap in an internal one.
/// </summary>
public sealed class DestinationConnector(DestinationPolicy policy, HostResolver resolve)
{
    public DestinationConnector(DestinationPolicy policy) : this(policy, Dns.GetHostAddressesAsync)
    {
    }

    public ValueTask<Stream> ConnectAsync(SocketsHttpConnectionContext context, CancellationToken cancellationToken) =>
        ConnectAsync(context.DnsEndPoint, cancellationToken);

    public async ValueTask<Stream> ConnectAsync(DnsEndPoint endpoint, CancellationToken cancellationToken)
    {
        var addresses = await CheckedAddressesAsync(endpoint.Host, cancellationToken);
        SocketException? last = null;
        // In the resolver's order, like the default handler; the next address only when one cannot be reached.
        foreach (var address in addresses)
        {
            var target = address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address;
            var socket = new Socket(target.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            try
            {
                await socket.ConnectAsync(new IPEndPoint(target, endpoint.Port), cancellationToken);
                return new NetworkStream(socket, ownsSocket: true);
            }
            catch (SocketException exception)
            {
                socket.Dispose();
                last = exception;
            }
            catch
            {
                socket.Dispose();
                throw;
            }
        }
        throw last ?? new SocketException((int)SocketError.HostNotFound);
    }

    /// <summary>The host's addresses, every one of them allowed; otherwise <see cref="BlockedDestinationException"/>.
    /// A name that resolves to a mix of public and internal addresses is refused as a whole: an attacker controlling
    /// the DNS answer could otherwise steer which one is used.</summary>
    public async Task<IReadOnlyList<IPAddress>> CheckedAddressesAsync(string host, CancellationToken cancellationToken)
    {
        // Uri gives IPv6 literals without brackets, but a caller might not.
        var literal = host.StartsWith('[') && host.EndsWith(']') ? host[1..^1] : host;
        IPAddress[] addresses = IPAddress.TryParse(literal, out var address) ? [address] : await resolve(host, cancellationToken);
        foreach (var candidate in addresses)
        {
            if (policy.Refusal(candidate) is { } reason) throw new BlockedDestinationException(host, candidate, reason);
        }
        return addresses;
    }
}
