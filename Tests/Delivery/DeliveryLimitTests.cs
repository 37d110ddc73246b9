using Herald.Tests.Harness;
using Xunit.Abstractions;

namespace Herald.Tests.Delivery;

/// <summary>An endpoint's rate limit and its application's (deliveries/s) hold across both Processor replicas, the
/// requests to one host are capped however many endpoints point at it, and nothing is dropped.</summary>
[Collection(HeraldAppCollection.Name)]
public sealed class DeliveryLimitTests(HeraldAppFixture herald, ITestOutputHelper output)
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
        // webhook-timestamp is the second the rates counted the attempt in: it is stamped at admission, right before the send.
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

    [Fact]
    public async Task An_application_limited_to_5_per_second_gets_at_most_5_in_any_second_across_its_endpoints()
    {
        const int limit = 5;
        var app = await herald.Admin.CreateApplicationAsync(settings: new { name = "limited application", rateLimit = limit });
        var urls = Enumerable.Range(0, 3).Select(i => herald.Receiver.UrlFor($"app-limited-{i}-" + Guid.NewGuid().ToString("N"))).ToList();
        foreach (var url in urls) await herald.Admin.CreateEndpointAsync(app, url);

        var sent = await Task.WhenAll(Enumerable.Range(0, 10).Select(i => herald.Admin.SendMessageAsync(app, "order.created", new { i })));
        foreach (var url in urls)
        {
            foreach (var id in sent) await herald.Receiver.WaitForAsync(id, TimeSpan.FromSeconds(60), url.AbsolutePath);
        }

        var received = urls.SelectMany(herald.Receiver.ReceivedAt).ToList();
        var perSecond = received.GroupBy(r => r.Headers["webhook-timestamp"]).OrderBy(g => g.Key).Select(g => g.Count()).ToList();
        output.WriteLine($"{received.Count} requests to {urls.Count} endpoints; per second: {string.Join(", ", perSecond)}");
        Assert.Equal(sent.Length * urls.Count, received.Count);
        Assert.All(perSecond, count => Assert.True(count <= limit, $"{count} deliveries of the application arrived in one second."));
        // 30 deliveries at 5/s take 6 admission seconds.
        Assert.True(perSecond.Count >= 6, $"30 deliveries went out within {perSecond.Count} seconds.");
    }

    [Fact]
    public async Task Requests_to_one_host_are_capped_however_many_endpoints_point_at_it()
    {
        var app = await herald.Admin.CreateApplicationAsync("one host");
        var urls = Enumerable.Range(0, 8).Select(i => herald.Receiver.UrlFor($"host-capped-{i}-" + Guid.NewGuid().ToString("N"))).ToList();
        var hold = TimeSpan.FromSeconds(1);
        foreach (var url in urls)
        {
            herald.Receiver.ReplyAt(url, _ => new Reply(204, hold));
            await herald.Admin.CreateEndpointAsync(app, url);
        }

        // 80 deliveries due at once to one host: 8 endpoints could take 8 each (64) per replica without the cap.
        var sent = await Task.WhenAll(Enumerable.Range(0, 10).Select(i => herald.Admin.SendMessageAsync(app, "order.created", new { i })));
        foreach (var url in urls)
        {
            foreach (var id in sent) await herald.Receiver.WaitForAsync(id, TimeSpan.FromSeconds(60), url.AbsolutePath);
        }

        // Each request is held for `hold` from its arrival: the most that overlapped is the most that were in flight.
        var events = urls.SelectMany(herald.Receiver.ReceivedAt)
            .SelectMany(r => new[] { (At: r.ReceivedAt, Change: 1), (At: r.ReceivedAt + hold, Change: -1) })
            .OrderBy(e => e.At).ThenBy(e => e.Change);
        var (inFlight, most) = (0, 0);
        foreach (var (_, change) in events) most = Math.Max(most, inFlight += change);
        output.WriteLine($"at most {most} requests in flight to one host (cap {HeraldAppFixture.HostConcurrency} per replica, {HeraldAppFixture.ProcessorReplicas} replicas)");
        Assert.InRange(most, 2, HeraldAppFixture.HostConcurrency * HeraldAppFixture.ProcessorReplicas);
    }
}
