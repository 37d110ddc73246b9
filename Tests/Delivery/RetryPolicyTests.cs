using System.Net;
using System.Text.Json;
using Grpc.Core;
using Herald.Grpc.V1;
using Herald.Tests.Harness;
using Xunit.Abstractions;

namespace Herald.Tests.Delivery;

/// <summary>Retry policies per application and per endpoint: each field overrides the level above it (endpoint over
/// application over the Processor's <see cref="HeraldAppFixture.RetrySchedule"/>), validated, and shown in the API.</summary>
[Collection(HeraldAppCollection.Name)]
public sealed class RetryPolicyTests(HeraldAppFixture herald, ITestOutputHelper output)
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task An_endpoint_policy_sets_the_attempts_and_the_delays_between_them()
    {
        var app = await herald.Admin.CreateApplicationAsync();
        var (url, endpoint) = await FailingEndpointAsync(app, new { delays = new[] { "300ms", "1500ms" }, maxAttempts = 4 });

        var message = await herald.Admin.SendMessageAsync(app, "invoice.paid", new { n = 1 });
        var row = await herald.WaitForAsync(message, endpoint, r => r.Status == "failed", Patience);
        await Task.Delay(TimeSpan.FromSeconds(2));

        var requests = herald.Receiver.ReceivedAt(url);
        var gaps = requests.Zip(requests.Skip(1), (a, b) => b.ReceivedAt - a.ReceivedAt).ToList();
        output.WriteLine($"gaps: {string.Join(", ", gaps.Select(g => $"{g.TotalMilliseconds:0} ms"))}");
        Assert.Equal(new DeliveryRow("failed", 4, null, "HTTP 500"), row);
        Assert.Equal(4, requests.Count);
        // 300 ms, then 1.5 s, and the last delay again (±20 % jitter, up to a scheduler interval and some slack late).
        double[] expected = [300, 1500, 1500];
        for (var i = 0; i < gaps.Count; i++)
            Assert.InRange(gaps[i].TotalMilliseconds, expected[i] * 0.8 - 50, expected[i] * 1.2 + HeraldAppFixture.SchedulerInterval.TotalMilliseconds + 1000);
    }

    [Fact]
    public async Task An_application_policy_applies_to_its_endpoints_field_by_field_unless_they_override_it()
    {
        var app = await herald.Admin.CreateApplicationAsync("policy", new { name = "policy", retryPolicy = new { delays = new[] { "200ms" }, maxAttempts = 2 } });
        var (inheritingUrl, inheriting) = await FailingEndpointAsync(app, null);
        var (overridingUrl, overriding) = await FailingEndpointAsync(app, new { maxAttempts = 3 });

        var message = await herald.Admin.SendMessageAsync(app, "invoice.paid", new { n = 1 });
        await herald.WaitForAsync(message, inheriting, r => r.Status == "failed", Patience);
        await herald.WaitForAsync(message, overriding, r => r.Status == "failed", Patience);
        await Task.Delay(TimeSpan.FromSeconds(1));

        Assert.Equal(2, herald.Receiver.ReceivedAt(inheritingUrl).Count);
        // Its own maxAttempts, and the application's 200 ms delays (the test Processor's own would be 1 s, then 2 s).
        var overridden = herald.Receiver.ReceivedAt(overridingUrl);
        Assert.Equal(3, overridden.Count);
        Assert.True(overridden[2].ReceivedAt - overridden[0].ReceivedAt < TimeSpan.FromSeconds(2.5),
            $"Took {(overridden[2].ReceivedAt - overridden[0].ReceivedAt).TotalSeconds:0.00} s.");

        var shown = (await herald.Admin.GetAsync($"/api/v1/apps/{app}")).Body.GetProperty("retryPolicy");
        Assert.Equal(["200ms"], shown.GetProperty("delays").EnumerateArray().Select(d => d.GetString()));
        Assert.Equal(2, shown.GetProperty("maxAttempts").GetInt32());
        Assert.Equal(JsonValueKind.Null, shown.GetProperty("timeout").ValueKind);
        var own = (await herald.Admin.GetAsync($"/api/v1/apps/{app}/endpoints/{overriding}")).Body.GetProperty("retryPolicy");
        Assert.Equal(JsonValueKind.Null, own.GetProperty("delays").ValueKind);
        Assert.Equal(3, own.GetProperty("maxAttempts").GetInt32());
        var none = (await herald.Admin.GetAsync($"/api/v1/apps/{app}/endpoints/{inheriting}")).Body.GetProperty("retryPolicy");
        Assert.Equal(JsonValueKind.Null, none.ValueKind);
    }

    [Fact]
    public async Task A_policy_timeout_ends_a_slow_attempt_early()
    {
        var app = await herald.Admin.CreateApplicationAsync();
        var url = herald.Receiver.UrlFor(Guid.NewGuid().ToString("N"));
        herald.Receiver.ReplyAt(url, new Reply(204, Delay: TimeSpan.FromSeconds(4)));
        var endpoint = await herald.Admin.PostOkAsync($"/api/v1/apps/{app}/endpoints",
            new { url, retryPolicy = new { maxAttempts = 1, timeout = "1s" } });
        var endpointId = endpoint.GetProperty("id").GetString()!;

        var message = await herald.Admin.SendMessageAsync(app, "invoice.paid", new { n = 1 });
        var row = await herald.WaitForAsync(message, endpointId, r => r.Status == "failed", Patience);

        Assert.Equal(new DeliveryRow("failed", 1, null, "timeout"), row);
        var attempts = await herald.Admin.GetAsync($"/api/v1/apps/{app}/messages/{message}/attempts");
        var latency = attempts.Body.GetProperty("data")[0].GetProperty("latencyMs").GetInt32();
        Assert.InRange(latency, 900, 2500);
    }

    [Theory]
    [InlineData("""{"delays":[]}""", "retryPolicy.delays")]
    [InlineData("""{"delays":["5 s"]}""", "retryPolicy.delays")]
    [InlineData("""{"delays":["-1s"]}""", "retryPolicy.delays")]
    [InlineData("""{"delays":["8d"]}""", "retryPolicy.delays")]
    [InlineData("""{"delays":["7d","7d","7d","7d","7d"]}""", "retryPolicy.delays")]
    [InlineData("""{"maxAttempts":0}""", "retryPolicy.maxAttempts")]
    [InlineData("""{"maxAttempts":51}""", "retryPolicy.maxAttempts")]
    [InlineData("""{"timeout":"16s"}""", "retryPolicy.timeout")]
    [InlineData("""{"timeout":"500ms"}""", "retryPolicy.timeout")]
    [InlineData("""{"timeout":"soon"}""", "retryPolicy.timeout")]
    public async Task An_out_of_bounds_policy_is_refused_for_endpoints_and_applications(string policy, string field)
    {
        var app = await herald.Admin.CreateApplicationAsync();
        foreach (var (path, body) in new[]
                 {
                     ($"/api/v1/apps/{app}/endpoints", $$"""{"url":"https://example.com/h","retryPolicy":{{policy}}}"""),
                     ("/api/v1/apps", $$"""{"name":"x","retryPolicy":{{policy}}}"""),
                 })
        {
            using var content = new StringContent(body, System.Text.Encoding.UTF8, "application/json");
            using var response = await herald.Admin.Http.PostAsync(path, content);
            var text = await response.Content.ReadAsStringAsync();
            Assert.True(response.StatusCode == HttpStatusCode.BadRequest, $"{path} {body}: {(int)response.StatusCode} {text}");
            using var problem = JsonDocument.Parse(text);
            Assert.True(problem.RootElement.GetProperty("errors").TryGetProperty(field, out _), text);
        }
    }

    [Fact]
    public async Task Policies_are_written_and_read_over_grpc_too()
    {
        var applications = new Applications.ApplicationsClient(herald.Grpc);
        var endpoints = new Endpoints.EndpointsClient(herald.Grpc);
        var admin = HeraldAppFixture.Bearer(herald.AdminKey);
        var app = await applications.CreateAsync(new CreateApplicationRequest
        {
            Application = new ApplicationInput { Name = "grpc-policy", RetryPolicy = new RetryPolicy { Delays = { "1.5s", "90s" } } },
        }, admin);
        Assert.Equal(["1500ms", "90s"], app.RetryPolicy.Delays);

        var endpoint = await endpoints.CreateAsync(new CreateEndpointRequest
        {
            AppId = app.Id,
            Endpoint = new EndpointInput { Url = "https://example.com/h", Ordering = "fifo", RetryPolicy = new RetryPolicy { MaxAttempts = 3, Timeout = "5s" } },
        }, admin);
        var read = await endpoints.GetAsync(new EndpointRef { AppId = app.Id, EndpointId = endpoint.Id }, admin);
        Assert.Equal("fifo", read.Ordering);
        Assert.Equal(3, read.RetryPolicy.MaxAttempts);
        Assert.Equal("5s", read.RetryPolicy.Timeout);
        Assert.Empty(read.RetryPolicy.Delays);

        var refused = await Assert.ThrowsAsync<RpcException>(() => endpoints.CreateAsync(new CreateEndpointRequest
        {
            AppId = app.Id,
            Endpoint = new EndpointInput { Url = "https://example.com/h", RetryPolicy = new RetryPolicy { MaxAttempts = 99 } },
        }, admin).ResponseAsync);
        Assert.Equal(StatusCode.InvalidArgument, refused.StatusCode);
    }

    private async Task<(Uri Url, string EndpointId)> FailingEndpointAsync(string app, object? policy)
    {
        var url = herald.Receiver.UrlFor(Guid.NewGuid().ToString("N"));
        herald.Receiver.ReplyAt(url, new Reply(500));
        var endpoint = await herald.Admin.PostOkAsync($"/api/v1/apps/{app}/endpoints", new { url, retryPolicy = policy });
        return (url, endpoint.GetProperty("id").GetString()!);
    }
}
