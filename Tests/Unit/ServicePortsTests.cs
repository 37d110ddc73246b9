using Herald.ServiceDefaults.Hosting;

namespace Herald.Tests.Unit;

/// <summary>Added ports (gRPC's, the management port) are reachable exactly where the REST port is: a local run
/// listening on loopback does not open them to the network.</summary>
public sealed class ServicePortsTests
{
    [Theory]
    [InlineData("http://localhost:5000", "http://localhost:5001/")]
    [InlineData("http://127.0.0.1:5000", "http://127.0.0.1:5001/")]
    [InlineData("http://[::1]:5000", "http://[::1]:5001/")]
    [InlineData("http://0.0.0.0:8080", "http://0.0.0.0:5001/")]
    [InlineData("http://localhost:5000;https://localhost:5443", "http://localhost:5001/")]
    [InlineData("http://127.0.0.1:5000;http://10.1.2.3:5000", "http://127.0.0.1:5001/;http://10.1.2.3:5001/")]
    public void An_added_port_listens_on_the_hosts_rest_listens_on(string rest, string expected)
    {
        var urls = ServicePorts.UrlsFor(rest.Split(';').Select(url => new Uri(url)), 5001);

        Assert.Equal(expected.Split(';'), urls.Select(url => url.ToString()));
    }
}
