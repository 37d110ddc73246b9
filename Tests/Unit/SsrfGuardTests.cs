using System.Net;
using System.Net.Sockets;
using Herald.Processor.Delivery;
using Herald.Processor.Delivery.Ssrf;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace Herald.Tests.Unit;

/// <summary>Which addresses webhook delivery may connect to, and how names are judged by what they resolve to.</summary>
public sealed class SsrfGuardTests
{
    // Start, inside and end of every blocked range (where the range has more than one address).
    public static TheoryData<string> BlockedAddresses() =>
    [
        // IPv4 Special-Purpose Address Registry, not globally reachable
        "0.0.0.0", "0.1.2.3", "0.255.255.255",
        "10.0.0.0", "10.20.30.40", "10.255.255.255",
        "100.64.0.0", "100.100.100.100", "100.127.255.255",
        "127.0.0.0", "127.0.0.1", "127.255.255.255",
        "169.254.0.0", "169.254.169.254", "169.254.255.255",
        "172.16.0.0", "172.20.1.1", "172.31.255.255",
        "192.0.0.0", "192.0.0.9", "192.0.0.170", "192.0.0.255",
        "192.0.2.0", "192.0.2.1", "192.0.2.255",
        "192.88.99.0", "192.88.99.1", "192.88.99.255",
        "192.168.0.0", "192.168.1.1", "192.168.255.255",
        "198.18.0.0", "198.19.0.1", "198.19.255.255",
        "198.51.100.0", "198.51.100.7", "198.51.100.255",
        "203.0.113.0", "203.0.113.50", "203.0.113.255",
        // multicast, reserved, broadcast
        "224.0.0.0", "224.0.0.251", "239.255.255.255",
        "240.0.0.0", "250.1.2.3", "255.255.255.254",
        "255.255.255.255",

        // IPv6 Special-Purpose Address Registry, not globally reachable
        "::", "::1",
        "64:ff9b:1::", "64:ff9b:1:1::808:808", "64:ff9b:1:ffff:ffff:ffff:ffff:ffff",
        "100::", "100::1", "100::ffff:ffff:ffff:ffff",
        "100:0:0:1::", "100:0:0:1:ffff:ffff:ffff:ffff",
        "2001::", "2001::1", "2001:0:4136:e378:8000:63bf:3fff:fdd2", "2001:1::1", "2001:2::1", "2001:20::1",
        "2001:1ff:ffff:ffff:ffff:ffff:ffff:ffff",
        "2001:db8::", "2001:db8::1", "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff",
        "3fff::", "3fff::1", "3fff:fff:ffff:ffff:ffff:ffff:ffff:ffff",
        "5f00::", "5f00::1", "5f00:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
        "fc00::", "fd00::1", "fd00:ec2::254", "fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
        "fe80::", "fe80::1", "febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
        "fec0::", "fec0::1", "feff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
        "ff00::", "ff02::1", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
        // IPv4-compatible (deprecated): blocked whatever it embeds
        "::2", "::7f00:1", "::a9fe:a9fe", "::808:808", "::ffff:ffff",
        // Outside 2000::/3: reserved, never global unicast (SIIT ::ffff:0:0:0/96 among them)
        "1::1", "4000::1", "e000::1", "::ffff:0:808:808",

        // Forms that embed a blocked IPv4 address: mapped, NAT64 (well-known and local-use /96), 6to4
        "::ffff:0.0.0.0", "::ffff:10.0.0.1", "::ffff:127.0.0.1", "::ffff:169.254.169.254", "::ffff:255.255.255.255",
        "64:ff9b::", "64:ff9b::10.0.0.1", "64:ff9b::127.0.0.1", "64:ff9b::169.254.169.254", "64:ff9b::ffff:ffff",
        "64:ff9b:1::10.0.0.1", "64:ff9b:1::169.254.169.254",
        "2002::", "2002:7f00:1::1", "2002:a00:1::", "2002:a9fe:a9fe::1", "2002:c058:6301::", "2002:c0a8:101:1::1",
        "2002:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
    ];

    public static TheoryData<string> AllowedAddresses() =>
    [
        "8.8.8.8", "1.1.1.1", "93.184.216.34", "1.0.0.0", "223.255.255.255",
        // Just outside each blocked IPv4 range
        "9.255.255.255", "11.0.0.0", "100.63.255.255", "100.128.0.0", "126.255.255.255", "128.0.0.0",
        "169.253.255.255", "169.255.0.0", "172.15.255.255", "172.32.0.0", "192.0.1.255", "192.0.3.0",
        "192.88.98.255", "192.88.100.0", "192.167.255.255", "192.169.0.0", "198.17.255.255", "198.20.0.0",
        "198.51.99.255", "198.51.101.0", "203.0.112.255", "203.0.114.0",
        // Special-purpose but globally reachable (AS112, AMT)
        "192.31.196.1", "192.52.193.1", "192.175.48.1",

        "2606:4700:4700::1111", "2a00:1450::1", "2001:4860:4860::8888", "2c0f:fb50:4003::1",
        // Just outside each blocked IPv6 range, and the ends of global unicast
        "2000::", "2001:200::", "2001:db7:ffff:ffff:ffff:ffff:ffff:ffff", "2001:db9::", "2003::1",
        "3ffe:ffff::1", "3fff:1000::", "2620:4f:8000::1",

        // Forms that embed an allowed IPv4 address
        "::ffff:8.8.8.8", "::ffff:1.1.1.1",
        "64:ff9b::8.8.8.8", "64:ff9b::1.1.1.1",
        "64:ff9b:1::8.8.8.8",
        "2002:808:808::1", "2002:101:101:1::",
    ];

    [Theory]
    [MemberData(nameof(BlockedAddresses))]
    public void A_non_global_address_is_refused(string address)
    {
        var refusal = DestinationPolicy.Strict.Refusal(IPAddress.Parse(address));

        Assert.False(string.IsNullOrEmpty(refusal), $"{address} should be refused");
    }

    [Theory]
    [MemberData(nameof(AllowedAddresses))]
    public void A_globally_reachable_address_is_allowed(string address)
    {
        Assert.Null(DestinationPolicy.Strict.Refusal(IPAddress.Parse(address)));
    }

    [Theory]
    [InlineData("169.254.169.254", "link-local")]
    [InlineData("100.64.0.1", "carrier-grade NAT")]
    [InlineData("fd00:ec2::254", "unique local")]
    [InlineData("::ffff:10.0.0.1", "private-use")]
    [InlineData("64:ff9b::127.0.0.1", "NAT64 of 127.0.0.1, loopback")]
    [InlineData("2002:a9fe:a9fe::", "6to4 of 169.254.169.254, link-local")]
    [InlineData("4000::1", "outside IPv6 global unicast")]
    public void A_refusal_says_which_range_the_address_is_in(string address, string reason)
    {
        Assert.Contains(reason, DestinationPolicy.Strict.Refusal(IPAddress.Parse(address)));
    }

    [Fact]
    public void Allowed_networks_override_the_block_and_nothing_else()
    {
        var policy = DestinationPolicy.FromSettings(["127.0.0.0/8", "::1/128", "10.1.0.0/16", "fd00:ec2::/32"]);

        foreach (var address in new[] { "127.0.0.1", "127.255.255.255", "::1", "::ffff:127.0.0.1", "10.1.2.3", "fd00:ec2::254", "8.8.8.8" })
        {
            Assert.True(policy.Allows(IPAddress.Parse(address)), $"{address} should be allowed");
        }
        foreach (var address in new[] { "10.2.0.1", "169.254.169.254", "::2", "fe80::1", "fd00::1", "192.168.1.1", "64:ff9b::127.0.0.1" })
        {
            Assert.False(policy.Allows(IPAddress.Parse(address)), $"{address} should still be refused");
        }
    }

    [Fact]
    public void Invalid_allowed_networks_are_reported_by_index_and_value()
    {
        var options = new DeliveryOptions { AllowedNetworks = ["127.0.0.0/8", "127.0.0.1", "10.0.0.1/8", "banana", "::1/129", "fd00::/8", "10/8"] };

        var result = new AllowedNetworksValidation().Validate(null, options);

        Assert.True(result.Failed);
        var failures = result.Failures!.ToList();
        Assert.Equal(5, failures.Count);
        Assert.Contains("Herald:Delivery:AllowedNetworks:1 '127.0.0.1'", failures[0]);
        Assert.Contains("Herald:Delivery:AllowedNetworks:2 '10.0.0.1/8'", failures[1]);
        Assert.Contains("Herald:Delivery:AllowedNetworks:3 'banana'", failures[2]);
        Assert.Contains("Herald:Delivery:AllowedNetworks:4 '::1/129'", failures[3]);
        Assert.Contains("Herald:Delivery:AllowedNetworks:6 '10/8'", failures[4]);
        Assert.True(new AllowedNetworksValidation().Validate(null, new DeliveryOptions { AllowedNetworks = ["127.0.0.0/8", "::1/128"] }).Succeeded);
    }

    [Fact]
    public async Task A_host_with_an_invalid_allowed_network_does_not_start()
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?> { ["Herald:Delivery:AllowedNetworks:0"] = "localhost" });
        builder.Services.Configure<DeliveryOptions>(builder.Configuration.GetSection(DeliveryOptions.Section));
        builder.Services.AddDestinationGuard();
        using var host = builder.Build();

        var exception = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync());
        Assert.Contains("'localhost' is not a CIDR network", exception.Message);
    }

    [Theory]
    [InlineData("metadata.internal", new[] { "169.254.169.254" }, "169.254.169.254")]
    [InlineData("rebind.example", new[] { "93.184.216.34", "10.0.0.1" }, "10.0.0.1")]
    [InlineData("rebind-first.example", new[] { "127.0.0.1", "93.184.216.34" }, "127.0.0.1")]
    [InlineData("aws-v6.internal", new[] { "2606:2800:220:1::", "fd00:ec2::254" }, "fd00:ec2::254")]
    [InlineData("mapped.example", new[] { "::ffff:192.168.0.10" }, "::ffff:192.168.0.10")]
    [InlineData("nat64.example", new[] { "64:ff9b::a9fe:a9fe" }, "64:ff9b::a9fe:a9fe")]
    public async Task A_name_is_refused_when_any_address_it_resolves_to_is_blocked(string host, string[] resolved, string blocked)
    {
        var connector = new DestinationConnector(DestinationPolicy.Strict, Resolver(host, resolved));

        var exception = await Assert.ThrowsAsync<BlockedDestinationException>(() => connector.CheckedAddressesAsync(host, default));

        Assert.Equal(host, exception.Host);
        Assert.Equal(IPAddress.Parse(blocked), exception.Address);
        Assert.Contains(host, exception.Message);
        Assert.Contains(blocked, exception.Message);
    }

    [Fact]
    public async Task A_name_whose_addresses_are_all_global_is_allowed_with_every_address()
    {
        var connector = new DestinationConnector(DestinationPolicy.Strict, Resolver("example.com", ["93.184.216.34", "2606:2800:220:1::"]));

        var addresses = await connector.CheckedAddressesAsync("example.com", default);

        Assert.Equal(new[] { IPAddress.Parse("93.184.216.34"), IPAddress.Parse("2606:2800:220:1::") }, addresses);
    }

    [Theory]
    [InlineData("169.254.169.254")]
    [InlineData("127.0.0.1")]
    [InlineData("::1")]
    [InlineData("[::1]")]
    [InlineData("[fd00:ec2::254]")]
    // Decimal and short forms of 127.0.0.1, as a resolver would read them.
    [InlineData("2130706433")]
    [InlineData("127.1")]
    public async Task A_literal_address_is_judged_without_asking_the_resolver(string host)
    {
        var connector = new DestinationConnector(DestinationPolicy.Strict, (_, _) => throw new InvalidOperationException("resolver called"));

        await Assert.ThrowsAsync<BlockedDestinationException>(() => connector.CheckedAddressesAsync(host, default));
    }

    [Fact]
    public async Task Localhost_through_the_real_resolver_is_refused()
    {
        var connector = new DestinationConnector(DestinationPolicy.Strict);

        var exception = await Assert.ThrowsAsync<BlockedDestinationException>(() => connector.CheckedAddressesAsync("localhost", default));

        Assert.True(IPAddress.IsLoopback(exception.Address), $"{exception.Address} should be a loopback address");
    }

    [Fact]
    public void The_error_vocabulary_names_the_cause_under_the_wrapping_exception()
    {
        HttpRequestException Wrapped(HttpRequestError error, Exception inner) => new(error, "wrapped", inner);

        Assert.Equal("ssrf-blocked", AttemptError.Classify(Wrapped(HttpRequestError.ConnectionError,
            new BlockedDestinationException("metadata.internal", IPAddress.Parse("169.254.169.254"), "link-local"))));
        Assert.Equal("connection-refused", AttemptError.Classify(Wrapped(HttpRequestError.ConnectionError, new SocketException((int)SocketError.ConnectionRefused))));
        Assert.Equal("dns", AttemptError.Classify(Wrapped(HttpRequestError.NameResolutionError, new SocketException((int)SocketError.HostNotFound))));
        Assert.Equal("dns", AttemptError.Classify(new HttpRequestException(HttpRequestError.NameResolutionError)));
        Assert.Equal("tls", AttemptError.Classify(Wrapped(HttpRequestError.SecureConnectionError, new System.Security.Authentication.AuthenticationException("bad certificate"))));
        Assert.Equal("timeout", AttemptError.Classify(Wrapped(HttpRequestError.ConnectionError, new SocketException((int)SocketError.TimedOut))));
        Assert.Equal("protocol", AttemptError.Classify(new HttpRequestException(HttpRequestError.InvalidResponse)));
        Assert.Equal("protocol", AttemptError.Classify(new HttpRequestException(HttpRequestError.ResponseEnded)));
        Assert.Equal("connection", AttemptError.Classify(Wrapped(HttpRequestError.ConnectionError, new SocketException((int)SocketError.NetworkUnreachable))));
        Assert.Equal("connection", AttemptError.Classify(new HttpRequestException(HttpRequestError.Unknown, "reset", new IOException("connection reset"))));
    }

    private static HostResolver Resolver(string host, string[] addresses) => (name, _) =>
        name == host ? Task.FromResult(addresses.Select(IPAddress.Parse).ToArray()) : throw new SocketException((int)SocketError.HostNotFound);
}
