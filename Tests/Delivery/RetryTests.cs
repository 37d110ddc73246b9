using System.Net;
using Herald.Tests.Harness;
using Xunit.Abstractions;

namespace Herald.Tests.Delivery;

/// <summary>What happens after a failed attempt: the retry schedule (shortened in the test app to
/// <see cref="HeraldAppFixture.RetrySchedule"/>), Retry-After, 410 Gone and the dead letter.</summary>
[Collection(HeraldAppCollection.Name)]
public sealed class RetryTests(HeraldAppFixture herald, ITestOutputHelper output)
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    // The test schedule's delays before attempts 2, 3 and 4.
    private static readonly TimeSpan[] Delays = [TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(4)];

    [Fact]
    public async Task A_failing_endpoint_is_retried_on_schedule_then_the_delivery_is_dead_lettered()
    {
        var (app, url, endpointId) = await EndpointAsync(new Reply(500));

        var messageId = await herald.Admin.SendMessageAsync(app, "invoice.paid", new { n = 1 });
        var requests = await herald.Receiver.WaitForRequestsAsync(url, 4, Patience);
        var row = await herald.WaitForAsync(messageId, endpointId, r => r.Status == "failed", Patience);

        Assert.Equal(4, requests.Count);
        Assert.All(requests, r => Assert.Equal(messageId, r.MessageId)); // the same webhook-id on every attempt
        var gaps = requests.Zip(requests.Skip(1), (a, b) => b.ReceivedAt - a.ReceivedAt).ToList();
        output.WriteLine($"gaps between attempts: {string.Join(", ", gaps.Select(g => $"{g.TotalSeconds:0.00} s"))}");
        for (var i = 0; i < gaps.Count; i++)
        {
            // ±20 % jitter; on top, up to one scheduler interval (1 s) and a loaded machine's slack.
            Assert.InRange(gaps[i], Delays[i] * 0.8 - TimeSpan.FromMilliseconds(100), Delays[i] * 1.2 + TimeSpan.FromSeconds(3));
        }
        Assert.Equal(new DeliveryRow("failed", 4, null, "HTTP 500"), row);

        // Dead-lettered, yet still there to see: four failed attempts listed for the message.
        await Task.Delay(TimeSpan.FromSeconds(3));
        Assert.Equal(4, herald.Receiver.ReceivedAt(url).Count);
        var attempts = await herald.Admin.GetAsync($"/api/v1/apps/{app}/messages/{messageId}/attempts");
        Assert.Equal(4, attempts.Body.GetProperty("data").GetArrayLength());
        Assert.All(attempts.Body.GetProperty("data").EnumerateArray(), a => Assert.Equal(500, a.GetProperty("httpStatus").GetInt32()));
    }

    [Fact]
    public async Task A_delivery_succeeds_on_the_attempt_after_the_endpoint_recovers()
    {
        var calls = 0;
        var (app, url, endpointId) = await EndpointAsync(null);
        herald.Receiver.ReplyAt(url, _ => Interlocked.Increment(ref calls) <= 2 ? new Reply(503) : Reply.Ok);

        var messageId = await herald.Admin.SendMessageAsync(app, "invoice.paid", new { n = 1 });
        var row = await herald.WaitForAsync(messageId, endpointId, r => r.Status == "succeeded", Patience);

        Assert.Equal(new DeliveryRow("succeeded", 3, null, null), row);
        Assert.Equal([503, 503, 204], herald.Receiver.ReceivedAt(url).Select(r => r.Status));
    }

    [Theory]
    [InlineData(503, "3", 3.0)]     // later than the schedule's 1 s, the receiver's word counts...
    [InlineData(429, "3600", 4.0)]  // ...clamped to the schedule's longest delay (4 s in the test app)
    public async Task Retry_after_decides_when_the_next_attempt_comes(int status, string retryAfter, double expectedSeconds)
    {
        var calls = 0;
        var (app, url, endpointId) = await EndpointAsync(null);
        herald.Receiver.ReplyAt(url, _ => Interlocked.Increment(ref calls) == 1 ? new Reply(status, RetryAfter: retryAfter) : Reply.Ok);

        var messageId = await herald.Admin.SendMessageAsync(app, "invoice.paid", new { n = 1 });
        var requests = await herald.Receiver.WaitForRequestsAsync(url, 2, Patience);
        await herald.WaitForAsync(messageId, endpointId, r => r.Status == "succeeded", Patience);

        Assert.Equal(2, requests.Count);
        var gap = requests[1].ReceivedAt - requests[0].ReceivedAt;
        output.WriteLine($"Retry-After {retryAfter}: next attempt after {gap.TotalSeconds:0.00} s");
        // No jitter on a receiver-chosen time; up to one scheduler interval late.
        Assert.InRange(gap.TotalSeconds, expectedSeconds - 0.1, expectedSeconds + 2.5);
    }

    [Fact]
    public async Task Gone_disables_the_endpoint_and_pauses_its_delivery()
    {
        var (app, url, endpointId) = await EndpointAsync(new Reply(410));

        var messageId = await herald.Admin.SendMessageAsync(app, "invoice.paid", new { n = 1 });
        var row = await herald.WaitForAsync(messageId, endpointId, r => r.Status == "paused", Patience);

        Assert.Equal("paused", row?.Status);
        var endpoint = await herald.Admin.GetAsync($"/api/v1/apps/{app}/endpoints/{endpointId}");
        Assert.True(endpoint.Body.GetProperty("disabled").GetBoolean());
        Assert.Contains("410", endpoint.Body.GetProperty("disabledReason").GetString());

        // A disabled endpoint is sent nothing: a new message's delivery is created paused, and neither is retried.
        var next = await herald.Admin.SendMessageAsync(app, "invoice.paid", new { n = 2 });
        var nextRow = await herald.WaitForAsync(next, endpointId, _ => true, Patience);
        await Task.Delay(TimeSpan.FromSeconds(3));
        Assert.Single(herald.Receiver.ReceivedAt(url));
        Assert.Equal(new DeliveryRow("paused", 0, null, null), nextRow);
        Assert.Equal("paused", (await herald.ReadAsync(messageId, endpointId))?.Status);
    }

    [Fact]
    public async Task An_endpoint_failing_without_a_success_for_the_configured_period_is_disabled()
    {
        var (app, url, endpointId) = await EndpointAsync(new Reply(500));
        var started = DateTime.UtcNow;

        // Keep it failing, as live traffic would, until Herald gives up on it.
        var disabled = false;
        while (!disabled && DateTime.UtcNow - started < HeraldAppFixture.DisableAfter * 3)
        {
            await herald.Admin.SendMessageAsync(app, "invoice.paid", new { n = 1 });
            await Task.Delay(TimeSpan.FromSeconds(2));
            disabled = (await herald.Admin.GetAsync($"/api/v1/apps/{app}/endpoints/{endpointId}")).Body.GetProperty("disabled").GetBoolean();
        }

        var elapsed = DateTime.UtcNow - started;
        output.WriteLine($"disabled after {elapsed.TotalSeconds:0.0} s of failures (DisableAfter {HeraldAppFixture.DisableAfter.TotalSeconds} s)");
        Assert.True(disabled, $"Still enabled after {elapsed}.");
        Assert.True(elapsed >= HeraldAppFixture.DisableAfter, $"Disabled after only {elapsed}.");
        var endpoint = await herald.Admin.GetAsync($"/api/v1/apps/{app}/endpoints/{endpointId}");
        Assert.Contains("no success", endpoint.Body.GetProperty("disabledReason").GetString());
    }

    private async Task<(string App, Uri Url, string EndpointId)> EndpointAsync(Reply? reply)
    {
        var app = await herald.Admin.CreateApplicationAsync();
        var url = herald.Receiver.UrlFor(Guid.NewGuid().ToString("N"));
        if (reply is not null) herald.Receiver.ReplyAt(url, reply);
        var (endpointId, _) = await herald.Admin.CreateEndpointAsync(app, url);
        return (app, url, endpointId);
    }
}
