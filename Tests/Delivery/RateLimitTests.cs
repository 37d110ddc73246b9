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
        // 20 deliveries at 4/s take 5 admission seconds, so the last cannot arrive (by the receiver's clock) before 4
        // whole seconds after the first one's. The span between arrivals alone is no measure: the first requests of a
        // second may arrive hundreds of milliseconds after they left, the last ones at once.
        var firstSecond = DateTimeOffset.FromUnixTimeSeconds(received.Min(r => long.Parse(r.Headers["webhook-timestamp"], System.Globalization.CultureInfo.InvariantCulture)));
        var last = received.Max(r => r.ReceivedAt);
        Assert.True(last >= firstSecond + TimeSpan.FromSeconds(4), $"the last of 20 deliveries arrived at {last:O}, the first was sent in the second of {firstSecond:O}.");
        Assert.All(sent, id => Assert.Contains(received, r => r.MessageId == id));
    }
}
