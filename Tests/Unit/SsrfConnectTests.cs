using Herald.Deliveries;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Herald.Messages;
using Herald.Processor.Delivery;
using Herald.Processor.Delivery.Ssrf;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace Herald.Tests.Unit;

/// <summary>The SSRF guard as the delivery client uses it: real sockets on loopback, a real HTTP exchange.</summary>
public sealed class SsrfConnectTests
{
    private const string Ok = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok";

    private static readonly DestinationPolicy Loopback = DestinationPolicy.FromSettings(["127.0.0.0/8"]);

    [Theory]
    [InlineData("127.0.0.1")]
    [InlineData("localhost")]
    public async Task Without_an_allowed_network_loopback_is_refused_before_any_connection(string host)
    {
        await using var server = new RawTcpServer(Ok);
        using var client = Client(new DestinationConnector(DestinationPolicy.Strict));

        var exception = await Assert.ThrowsAsync<HttpRequestException>(() => client.GetAsync($"http://{host}:{server.Port}/"));

        Assert.Equal("ssrf-blocked", AttemptError.Classify(exception));
        Assert.IsType<BlockedDestinationException>(exception.InnerException);
        Assert.Equal(0, server.Accepted);
    }

    [Fact]
    public async Task With_loopback_allowed_the_request_gets_a_real_response()
    {
        await using var server = new RawTcpServer(Ok);
        using var client = Client(new DestinationConnector(Loopback));

        using var response = await client.GetAsync($"http://127.0.0.1:{server.Port}/");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("ok", await response.Content.ReadAsStringAsync());
        Assert.Equal(1, server.Accepted);
    }

    [Fact]
    public async Task A_name_is_dialled_at_the_address_it_was_checked_at_never_resolved_again()
    {
        await using var server = new RawTcpServer(Ok);
        // receiver.test exists nowhere but in this resolver: the connection can only use the checked address.
        using var client = Client(new DestinationConnector(Loopback, Resolver("receiver.test", "127.0.0.1")));

        using var response = await client.GetAsync($"http://receiver.test:{server.Port}/");

        Assert.Equal("ok", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Addresses_are_tried_in_order_until_one_connects()
    {
        await using var server = new RawTcpServer(Ok);
        // Nothing listens on 127.0.0.2 (the server is bound to 127.0.0.1): refused, then the next address.
        using var client = Client(new DestinationConnector(Loopback, Resolver("two.test", "127.0.0.2", "127.0.0.1")));

        using var response = await client.GetAsync($"http://two.test:{server.Port}/");

        Assert.Equal("ok", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task A_name_resolving_to_a_public_and_an_internal_address_is_refused_before_connecting()
    {
        await using var server = new RawTcpServer(Ok);
        using var client = Client(new DestinationConnector(DestinationPolicy.Strict, Resolver("rebind.example", "93.184.216.34", "127.0.0.1")));

        var exception = await Assert.ThrowsAsync<HttpRequestException>(() => client.GetAsync($"http://rebind.example:{server.Port}/"));

        Assert.Equal("ssrf-blocked", AttemptError.Classify(exception));
        Assert.Equal(0, server.Accepted);
    }

    [Fact]
    public async Task Connection_failures_are_classified_by_their_cause()
    {
        int closedPort;
        using (var probe = new TcpListener(IPAddress.Loopback, 0))
        {
            probe.Start();
            closedPort = ((IPEndPoint)probe.LocalEndpoint).Port;
        }
        await using var notHttp = new RawTcpServer("SSH-2.0-OpenSSH\r\n\r\n");
        await using var plain = new RawTcpServer(Ok);
        using var client = Client(new DestinationConnector(Loopback, (_, _) => throw new SocketException((int)SocketError.HostNotFound)));

        Assert.Equal("connection-refused", await ClassifiedAsync(client, $"http://127.0.0.1:{closedPort}/"));
        Assert.Equal("protocol", await ClassifiedAsync(client, $"http://127.0.0.1:{notHttp.Port}/"));
        Assert.Equal("tls", await ClassifiedAsync(client, $"https://127.0.0.1:{plain.Port}/"));
        Assert.Equal("dns", await ClassifiedAsync(client, "http://no-such-host.invalid/"));
    }

    [Theory]
    [InlineData(null, false, null, "ssrf-blocked")]
    [InlineData("127.0.0.0/8", true, 200, null)]
    public async Task The_processors_delivery_client_goes_through_the_guard(string? allowed, bool succeeded, int? status, string? error)
    {
        await using var server = new RawTcpServer(Ok);
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        if (allowed is not null)
        {
            builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?> { ["Herald:Delivery:AllowedNetworks:0"] = allowed });
        }
        builder.AddWebhookDelivery();
        using var host = builder.Build();
        var sender = host.Services.GetRequiredService<WebhookSender>();
        var endpoint = new EndpointTarget("ep_1", "app_1", new Uri($"http://127.0.0.1:{server.Port}/hook"),
            ["whsec_" + Convert.ToBase64String(new byte[32])], new Dictionary<string, string>(), host.Services.GetRequiredService<RetrySchedule>());

        var attempt = await sender.SendAsync(endpoint, new DeliveryTask("msg_1", "ep_1", "app_1", "invoice.paid", "{}", DateTimeOffset.UtcNow, 1, DateTimeOffset.UtcNow), default);

        Assert.Equal(succeeded, attempt.Succeeded);
        Assert.Equal(status, attempt.HttpStatus);
        Assert.Equal(error, attempt.Error);
        Assert.Equal(succeeded ? 1 : 0, server.Accepted);
    }

    private static HttpClient Client(DestinationConnector connector) =>
        new(new SocketsHttpHandler { ConnectCallback = connector.ConnectAsync, UseProxy = false }) { Timeout = TimeSpan.FromSeconds(10) };

    private static async Task<string> ClassifiedAsync(HttpClient client, string url) =>
        AttemptError.Classify(await Assert.ThrowsAsync<HttpRequestException>(() => client.GetAsync(url)));

    private static HostResolver Resolver(string host, params string[] addresses) => (name, _) =>
        name == host ? Task.FromResult(addresses.Select(IPAddress.Parse).ToArray()) : throw new SocketException((int)SocketError.HostNotFound);

    /// <summary>A loopback TCP server that answers the first bytes it reads with a fixed reply, and counts connections.</summary>
    private sealed class RawTcpServer : IAsyncDisposable
    {
        private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
        private readonly CancellationTokenSource _stop = new();
        private readonly byte[] _answer;
        private readonly Task _accepting;
        private int _accepted;

        public RawTcpServer(string answer)
        {
            _answer = Encoding.ASCII.GetBytes(answer);
            _listener.Start();
            _accepting = AcceptAsync();
        }

        public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

        public int Accepted => Volatile.Read(ref _accepted);

        private async Task AcceptAsync()
        {
            try
            {
                while (true)
                {
                    var client = await _listener.AcceptTcpClientAsync(_stop.Token);
                    Interlocked.Increment(ref _accepted);
                    _ = AnswerAsync(client);
                }
            }
            catch (Exception exception) when (exception is OperationCanceledException or SocketException or ObjectDisposedException
                                              or InvalidOperationException)
            {
                // Stopped (a listener stopped between two accepts says "not listening").
            }
        }

        private async Task AnswerAsync(TcpClient client)
        {
            using (client)
            {
                try
                {
                    var stream = client.GetStream();
                    var buffer = new byte[8192];
                    if (await stream.ReadAsync(buffer, _stop.Token) == 0) return;
                    await stream.WriteAsync(_answer, _stop.Token);
                    // Half-close, then drain: closing with unread request bytes would reset the connection under the reply.
                    client.Client.Shutdown(SocketShutdown.Send);
                    while (await stream.ReadAsync(buffer, _stop.Token) > 0)
                    {
                    }
                }
                catch (Exception exception) when (exception is IOException or SocketException or OperationCanceledException)
                {
                    // The client gave up first (a failed TLS handshake does).
                }
            }
        }

        public async ValueTask DisposeAsync()
        {
            await _stop.CancelAsync();
            _listener.Stop();
            await _accepting;
            _stop.Dispose();
        }
    }
}
