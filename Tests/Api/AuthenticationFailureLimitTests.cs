using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using Herald.Bench.Faults.Injectors;
using Herald.Tests.Harness;

namespace Herald.Tests.Api;

/// <summary>Failed authentications are limited per client address (Herald:Auth:FailuresPerSecond, 10 by default): past
/// the limit that address gets 429 with Retry-After and no lookup, while keys in use keep working and other addresses
/// are not affected.</summary>
[Collection(HeraldAppCollection.Name)]
public sealed class AuthenticationFailureLimitTests(HeraldAppFixture herald)
{
    [Fact]
    public async Task An_address_guessing_keys_gets_429_while_its_working_key_and_other_addresses_go_on()
    {
        var app = await herald.Admin.CreateApplicationAsync("auth-failures");
        var key = await herald.Admin.CreateApplicationKeyAsync(app);
        // The API process itself, so the address it sees is the client's own (the orchestrator's proxy would be 127.0.0.1).
        var api = HeraldProcesses.HttpAddress(HeraldAppFixture.ProcessOf((await herald.CurrentStateAsync("api")).ResourceId)!.Value)!;
        using var guesser = ClientFrom(IPAddress.Parse("127.0.0.2"), api);
        using var bystander = ClientFrom(IPAddress.Parse("127.0.0.3"), api);
        var path = $"/api/v1/apps/{app}/endpoints";
        Assert.Equal(HttpStatusCode.OK, (await SendAsync(guesser, path, key)).StatusCode);

        var answers = new List<HttpResponseMessage>();
        for (var i = 0; i < 40 && !answers.Any(a => a.StatusCode == HttpStatusCode.TooManyRequests); i++)
            answers.Add(await SendAsync(guesser, path, RandomKey()));

        Assert.All(answers, a => Assert.Contains(a.StatusCode, new[] { HttpStatusCode.Unauthorized, HttpStatusCode.TooManyRequests }));
        var refused = Assert.Single(answers, a => a.StatusCode == HttpStatusCode.TooManyRequests);
        // At most the limit in the second it was reached, and the one before if the run straddled two.
        Assert.InRange(answers.Count(a => a.StatusCode == HttpStatusCode.Unauthorized), 10, 20);
        Assert.Equal(TimeSpan.FromSeconds(1), refused.Headers.RetryAfter?.Delta);
        Assert.Equal("application/problem+json", refused.Content.Headers.ContentType?.MediaType);
        Assert.Contains("failed authentications", await refused.Content.ReadAsStringAsync(), StringComparison.Ordinal);

        // Meanwhile: the guesser's own working key, and another address's bad key, are answered as usual.
        var working = await SendAsync(guesser, path, key);
        var other = await SendAsync(bystander, path, RandomKey());
        Assert.Equal(HttpStatusCode.OK, working.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, other.StatusCode);

        // And once the second is over, the guesser is heard again.
        await Task.Delay(TimeSpan.FromSeconds(1.2));
        Assert.Equal(HttpStatusCode.Unauthorized, (await SendAsync(guesser, path, RandomKey())).StatusCode);
    }

    private static string RandomKey() => "hk_app_" + Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    private static Task<HttpResponseMessage> SendAsync(HttpClient client, string path, string key)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, path) { Headers = { Authorization = new("Bearer", key) } };
        return client.SendAsync(request);
    }

    // Every connection leaves from `local`: 127.0.0.0/8 is all loopback, so each test address is a client of its own.
    private static HttpClient ClientFrom(IPAddress local, Uri api) => new(new SocketsHttpHandler
    {
        ConnectCallback = async (context, cancellationToken) =>
        {
            var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            try
            {
                socket.Bind(new IPEndPoint(local, 0));
                await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, context.DnsEndPoint.Port), cancellationToken);
                return new NetworkStream(socket, ownsSocket: true);
            }
            catch
            {
                socket.Dispose();
                throw;
            }
        },
    })
    { BaseAddress = api };
}
