using Herald.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Herald.Tests.Delivery;

/// <summary>An endpoint's rate limit (deliveries/s) holds across both Processor replicas, and nothing is dropped.</summary>
[Collection(HeraldAppCollection.Name)]
public sealed class RateLimitTests(HeraldAppFixture herald, ITestOutputHelper output)
{
    [Fact]
    public async Task An_endpoint_limited_to_4_per_second_gets_at_most_4_in_any_second_and_every_message()
    {
        const int limit = 4;
        var app = await herald.Admin.CreateApplicationAsync();
        var url = herald.Receiver.UrlFor("limited-" + Guid.NewGuid().ToString("N"));
        var endpoint = await herald.Admin.PostOkAsync($"/api/v1/apps/{app}/endpoints", new { url, rateLimit = limit });
        Assert.Equal(limit, endpoint.GetProperty("rateLimit").GetInt32());

        var sent = await Task.WhenAll(Enumerable.Range(0, 20).Select(i => herald.Admin.SendMessageAsync(app, "order.created", new { i })));
        foreach (var id in sent) await herald.Receiver.WaitForAsync(id, TimeSpan.FromSeconds(60), url.AbsolutePath);

        var received = herald.Receiver.ReceivedAt(url);
        // webhook-timestamp is taken as the request leaves, right after admission: the second the limit counted it in.
        var perSecond = received.GroupBy(r => r.Headers["webhook-timestamp"]).Select(g => g.Count()).ToList();
        var span = received.Max(r => r.ReceivedAt) - received.Min(r => r.ReceivedAt);
        output.WriteLine($"{received.Count} requests over {span.TotalSeconds:0.0} s; per second: {string.Join(", ", perSecond)}");
        Assert.All(perSecond, count => Assert.True(count <= limit, $"{count} deliveries arrived in one second."));
        // 20 deliveries at 4/s cannot all land in less than 4 whole seconds.
        Assert.True(span >= TimeSpan.FromSeconds(3), $"20 deliveries took only {span}.");
        Assert.All(sent, id => Assert.Contains(received, r => r.MessageId == id));
    }
}
