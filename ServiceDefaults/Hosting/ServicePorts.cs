using System.Net;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace Herald.ServiceDefaults.Hosting;

/// <summary>
/// Ports a service serves beside the URLs ASP.NET is given (<c>ASPNETCORE_URLS</c> / <c>HTTP_PORTS</c>): gRPC's, the
/// management port. Once a port is added Kestrel binds only what it is told, so this one place binds the given URLs
/// and every added port, each added port on the hosts the given URLs use (loopback stays loopback).
/// </summary>
public static class ServicePorts
{
    public static void AddServicePort(this IHostApplicationBuilder builder, int port, HttpProtocols protocols)
    {
        if (!builder.Properties.TryGetValue(typeof(AddedPorts), out var registered))
        {
            var added = new AddedPorts();
            registered = builder.Properties[typeof(AddedPorts)] = added;
            var given = GivenUrls(builder.Configuration);
            builder.Services.Configure<KestrelServerOptions>(kestrel =>
            {
                foreach (var url in given) Listen(kestrel, url, HttpProtocols.Http1AndHttp2);
                foreach (var (number, addedProtocols) in added)
                {
                    foreach (var url in UrlsFor(given, number)) Listen(kestrel, url, addedProtocols);
                }
            });
        }
        ((AddedPorts)registered).Add((port, protocols));
    }

    /// <summary>An added port listens, in cleartext, on each host the given URLs listen on.</summary>
    public static IReadOnlyList<Uri> UrlsFor(IEnumerable<Uri> givenUrls, int port) =>
        [.. givenUrls.Select(url => url.Host).Distinct(StringComparer.OrdinalIgnoreCase).Select(host => new UriBuilder(Uri.UriSchemeHttp, host, port).Uri)];

    // What Kestrel would have bound from ASPNETCORE_URLS / HTTP_PORTS had no listener been added.
    private static List<Uri> GivenUrls(IConfiguration configuration)
    {
        var urls = (configuration["urls"] ?? configuration["ASPNETCORE_URLS"] ?? "")
            .Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(url => new Uri(url.Replace("://*", "://0.0.0.0", StringComparison.Ordinal).Replace("://+", "://0.0.0.0", StringComparison.Ordinal)))
            .ToList();
        if (urls.Count == 0)
        {
            var ports = (configuration["HTTP_PORTS"] ?? "8080").Split(';', StringSplitOptions.RemoveEmptyEntries);
            urls.AddRange(ports.Select(port => new Uri($"http://0.0.0.0:{port}")));
        }
        return urls;
    }

    private static void Listen(KestrelServerOptions kestrel, Uri url, HttpProtocols protocols)
    {
        void Configure(ListenOptions listen)
        {
            listen.Protocols = protocols;
            if (url.Scheme == Uri.UriSchemeHttps) listen.UseHttps();
        }

        if (url.Host == "localhost") kestrel.ListenLocalhost(url.Port, Configure);
        else if (IPAddress.TryParse(url.Host.Trim('[', ']'), out var address) && !address.Equals(IPAddress.Any) && !address.Equals(IPAddress.IPv6Any))
            kestrel.Listen(address, url.Port, Configure);
        else kestrel.ListenAnyIP(url.Port, Configure);
    }

    private sealed class AddedPorts : List<(int Port, HttpProtocols Protocols)>;
}
