using System.Net;
using Herald.Tests.Harness;

namespace Herald.Tests.Delivery;

/// <summary>The whole path with the delivery engine: a message is delivered, and its outcome reaches the application's
/// live stream.</summary>
[Collection(HeraldAppCollection.Name)]
public sealed class LiveOutcomeTests(HeraldAppFixture herald)
{
    private static readonly TimeSpan DeliveryTimeout = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task A_delivered_message_appears_as_succeeded_on_the_event_stream()
    {
        var app = await herald.Admin.CreateApplicationAsync("live");
        using var client = herald.Client(await herald.Admin.CreateApplicationKeyAsync(app));
        var url = herald.Receiver.UrlFor(Guid.NewGuid().ToString("N"));
        var (endpoint, _) = await client.CreateEndpointAsync(app, url);
        using var timeout = new CancellationTokenSource(DeliveryTimeout);
        var (status, opened) = await EventStream.OpenAsync(client.Http, $"/api/v1/apps/{app}/deliveries/stream?endpointId={endpoint}", timeout.Token);
        Assert.Equal(HttpStatusCode.OK, status);
        await using var stream = opened!;

        var message = await client.SendMessageAsync(app, "invoice.paid", new { invoice = "in_live" });

        // Only this endpoint's outcomes arrive; the first for this message must be the successful attempt.
        var outcome = (await stream.OutcomesUntilAttemptOfAsync(message))[^1];
        Assert.Equal(endpoint, outcome.EndpointId);
        Assert.Equal(app, outcome.ApplicationId);
        Assert.Equal("invoice.paid", outcome.EventType);
        Assert.Equal("succeeded", outcome.Status);
        Assert.Equal("succeeded", outcome.DeliveryStatus);
        Assert.Equal(204, outcome.HttpStatus);
        Assert.Single(herald.Receiver.ReceivedFor(message));
    }
}
