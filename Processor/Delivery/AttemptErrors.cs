using System.Net.Sockets;
using System.Security.Authentication;
using Herald.Processor.Delivery.Ssrf;

namespace Herald.Processor.Delivery;

/// <summary>
/// The <c>error</c> recorded for an attempt that got no HTTP response: a small fixed vocabulary, so operators and
/// customers can tell "your server refused the connection" from "your certificate is wrong" without reading stack traces.
/// </summary>
public static class AttemptError
{
    public const string Timeout = "timeout";
    public const string Dns = "dns";
    public const string ConnectionRefused = "connection-refused";
    public const string Tls = "tls";
    public const string SsrfBlocked = "ssrf-blocked";
    public const string Connection = "connection";
    public const string Protocol = "protocol";

    public static string Classify(Exception exception)
    {
        // SocketsHttpHandler wraps the cause (a ConnectCallback's exception included) in HttpRequestException, so the
        // chain is searched, most specific cause first.
        var chain = Chain(exception).ToList();
        if (chain.Any(e => e is BlockedDestinationException)) return SsrfBlocked;
        if (chain.Any(e => e is AuthenticationException)) return Tls;
        foreach (var socket in chain.OfType<SocketException>())
        {
            switch (socket.SocketErrorCode)
            {
                case SocketError.ConnectionRefused: return ConnectionRefused;
                case SocketError.HostNotFound or SocketError.NoData or SocketError.TryAgain: return Dns;
                case SocketError.TimedOut: return Timeout;
            }
        }
        if (chain.OfType<HttpRequestException>().FirstOrDefault() is { } http)
        {
            switch (http.HttpRequestError)
            {
                case HttpRequestError.NameResolutionError: return Dns;
                case HttpRequestError.SecureConnectionError: return Tls;
                case HttpRequestError.InvalidResponse or HttpRequestError.ResponseEnded or HttpRequestError.HttpProtocolError
                    or HttpRequestError.VersionNegotiationError or HttpRequestError.ExtendedConnectNotSupported
                    or HttpRequestError.ConfigurationLimitExceeded or HttpRequestError.UserAuthenticationError:
                    return Protocol;
            }
        }
        if (chain.Any(e => e is TimeoutException or OperationCanceledException)) return Timeout;
        return Connection;
    }

    private static IEnumerable<Exception> Chain(Exception exception)
    {
        for (Exception? current = exception; current is not null; current = current.InnerException)
        {
            yield return current;
        }
    }
}
