using System.Net;
using System.Text;
using System.Text.Json;
using Herald.Tests.Harness;

namespace Herald.Tests.Delivery;

/// <summary>Routing at fan-out: a message's channels against an endpoint's, and an endpoint's content filter against
/// the payload; and finding messages again by channel and tag.</summary>
[Collection(HeraldAppCollection.Name)]
public sealed class RoutingTests(HeraldAppFixture herald)
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task Channels_route_a_message_to_the_endpoints_sharing_one_and_to_those_with_none()
    {
        var app = await herald.Admin.CreateApplicationAsync();
        var eu = await EndpointAsync(app, new { channels = new[] { "eu", "global" } });
        var us = await EndpointAsync(app, new { channels = new[] { "us" } });
        var all = await EndpointAsync(app, new { });

        var toEu = await SendAsync(app, new { eventType = "invoice.paid", payload = new { n = 1 }, channels = new[] { "eu" }, tags = new[] { "customer:42" } });
        var plain = await SendAsync(app, new { eventType = "invoice.paid", payload = new { n = 2 } });
        var both = await SendAsync(app, new { eventType = "invoice.paid", payload = new { n = 3 }, channels = new[] { "us", "global" } });

        await herald.Receiver.WaitForAsync(both, Patience, eu.Url.AbsolutePath);
        await herald.Receiver.WaitForAsync(both, Patience, us.Url.AbsolutePath);
        await herald.Receiver.WaitForAsync(plain, Patience, all.Url.AbsolutePath);
        await herald.Receiver.WaitForAsync(both, Patience, all.Url.AbsolutePath);
        await herald.Receiver.WaitForAsync(toEu, Patience, all.Url.AbsolutePath);
        await Task.Delay(TimeSpan.FromSeconds(1));

        Assert.Equal(Sorted(toEu, both), Sorted([.. Received(eu.Url)]));
        Assert.Equal([both], Received(us.Url));
        Assert.Equal(Sorted(toEu, plain, both), Sorted([.. Received(all.Url)]));
        // Only the deliveries that were due exist: none is made for an endpoint the message is not for.
        Assert.Null(await herald.ReadAsync(plain, eu.Id));

        var byChannel = await herald.Admin.GetAsync($"/api/v1/apps/{app}/messages?channel=global");
        Assert.Equal([both], Ids(byChannel.Body));
        Assert.Equal(["us", "global"], byChannel.Body.GetProperty("data")[0].GetProperty("channels").EnumerateArray().Select(c => c.GetString()));
        var byTag = await herald.Admin.GetAsync($"/api/v1/apps/{app}/messages?tag=customer:42");
        Assert.Equal([toEu], Ids(byTag.Body));
        Assert.Equal(HttpStatusCode.BadRequest, (await herald.Admin.GetAsync($"/api/v1/apps/{app}/messages?channel=a%20b")).Status);
    }

    [Fact]
    public async Task A_content_filter_admits_only_matching_payloads()
    {
        var app = await herald.Admin.CreateApplicationAsync();
        var big = await EndpointAsync(app, new
        {
            filter = JsonDocument.Parse("""
                {"data": {"amount": {"$gte": 100}, "currency": {"$in": ["usd", "eur"]}},
                 "$or": [{"customer": {"tier": "gold"}}, {"customer": {"tier": {"$exists": false}}}]}
                """).RootElement,
        });
        // Keys and strings with quotes, backslashes and unicode must match exactly what they say.
        var odd = await EndpointAsync(app, new { filter = JsonDocument.Parse("""{"we\"ird\\key": "va\"l\\ue ✓", "$not": {"n": 1}}""").RootElement });

        var large = await SendAsync(app, new { eventType = "invoice.paid", payload = JsonDocument.Parse("""{"data":{"amount":250,"currency":"eur"},"customer":{"tier":"gold"}}""").RootElement });
        var small = await SendAsync(app, new { eventType = "invoice.paid", payload = JsonDocument.Parse("""{"data":{"amount":99.5,"currency":"eur"}}""").RootElement });
        var silver = await SendAsync(app, new { eventType = "invoice.paid", payload = JsonDocument.Parse("""{"data":{"amount":500,"currency":"usd"},"customer":{"tier":"silver"}}""").RootElement });
        var untiered = await SendAsync(app, new { eventType = "invoice.paid", payload = JsonDocument.Parse("""{"data":{"amount":100,"currency":"usd"}}""").RootElement });
        var oddMatch = await SendAsync(app, new { eventType = "x", payload = JsonDocument.Parse("""{"we\"ird\\key": "va\"l\\ue ✓", "n": 2}""").RootElement });
        var oddMiss = await SendAsync(app, new { eventType = "x", payload = JsonDocument.Parse("""{"we\"ird\\key": "va\"l\\ue ✓", "n": 1}""").RootElement });
        // A payload PostgreSQL cannot read as jsonb matches no filter, and holds up nothing else.
        var nul = await SendAsync(app, new { eventType = "x", payload = JsonDocument.Parse("""{"data":{"amount":1000,"currency":"usd"},"s":"\u0000"}""").RootElement });
        var after = await SendAsync(app, new { eventType = "x", payload = JsonDocument.Parse("""{"data":{"amount":1000,"currency":"usd"}}""").RootElement });

        await herald.Receiver.WaitForAsync(after, Patience, big.Url.AbsolutePath);
        await herald.Receiver.WaitForAsync(oddMatch, Patience, odd.Url.AbsolutePath);
        await Task.Delay(TimeSpan.FromSeconds(1));
        Assert.Equal(Sorted(large, untiered, after), Sorted([.. Received(big.Url)]));
        Assert.Equal([oddMatch], Received(odd.Url));
        foreach (var id in new[] { small, silver, oddMiss, nul }) Assert.Null(await herald.ReadAsync(id, big.Id));

        var shown = await herald.Admin.GetAsync($"/api/v1/apps/{app}/endpoints/{big.Id}");
        Assert.Equal(100, shown.Body.GetProperty("filter").GetProperty("data").GetProperty("amount").GetProperty("$gte").GetInt32());
        Assert.Equal("eur", shown.Body.GetProperty("filter").GetProperty("data").GetProperty("currency").GetProperty("$in")[1].GetString());
    }

    [Fact]
    public async Task A_fifo_endpoint_queues_only_the_messages_its_routing_admits()
    {
        var app = await herald.Admin.CreateApplicationAsync();
        var fifo = await EndpointAsync(app, new { ordering = "fifo", channels = new[] { "orders" }, filter = JsonDocument.Parse("""{"keep": true}""").RootElement });

        var kept = new List<string?>();
        for (var n = 0; n < 6; n++)
        {
            var id = await SendAsync(app, new { eventType = "order.updated", payload = new { n, keep = n % 2 == 0 }, channels = new[] { n == 4 ? "other" : "orders" } });
            if (n % 2 == 0 && n != 4) kept.Add(id);
        }
        foreach (var id in kept) await herald.Receiver.WaitForAsync(id!, Patience, fifo.Url.AbsolutePath);
        await Task.Delay(TimeSpan.FromSeconds(1));
        Assert.Equal(kept, Received(fifo.Url));
    }

    [Theory]
    [InlineData("""[{"a":1}]""", "A filter is a JSON object")]
    [InlineData("""{}""", "no condition")]
    [InlineData("""{"a":[1,2]}""", "$in")]
    [InlineData("""{"a":{"$regex":"x"}}""", "not an operator")]
    [InlineData("""{"$where":"1"}""", "not an operator here")]
    [InlineData("""{"a":{"$gt":true}}""", "compares with a number or a string")]
    [InlineData("""{"a":{"$in":[]}}""", "array of 1 to")]
    [InlineData("""{"a":{"$eq":1,"b":2}}""", "cannot be mixed")]
    [InlineData("""{"a":{"b":{"c":{"d":{"e":{"f":{"g":1}}}}}}}""", "Nested more than")]
    [InlineData("""{"a":1e40}""", "numbers in a filter")]
    [InlineData("""{"a":"\ud800"}""", "unpaired surrogates")]
    public async Task A_filter_herald_cannot_use_is_refused_with_the_reason(string filter, string reason)
    {
        var app = await herald.Admin.CreateApplicationAsync();
        var body = $$"""{"url":"https://example.com/h","filter":{{filter}}}""";
        using var content = new StringContent(body, Encoding.UTF8, "application/json");
        using var response = await herald.Admin.Http.PostAsync($"/api/v1/apps/{app}/endpoints", content);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.BadRequest, $"{(int)response.StatusCode} {text}");
        using var problem = JsonDocument.Parse(text);
        var errors = problem.RootElement.GetProperty("errors");
        var messages = errors.TryGetProperty("filter", out var f) ? f.EnumerateArray().Select(e => e.GetString()).ToList() : [];
        Assert.True(messages.Any(m => m!.Contains(reason, StringComparison.Ordinal)) || text.Contains(reason, StringComparison.Ordinal), text);
    }

    [Theory]
    [InlineData("""{"channels":["a b"]}""", "channels")]
    [InlineData("""{"channels":["a,b"]}""", "channels")]
    [InlineData("""{"channels":[]}""", "channels")]
    [InlineData("""{"tags":["1","2","3","4","5","6","7","8","9","10","11"]}""", "tags")]
    public async Task Bad_channels_and_tags_on_a_message_are_refused(string extra, string field)
    {
        var app = await herald.Admin.CreateApplicationAsync();
        var body = $$"""{"eventType":"x","payload":{}, {{extra[1..^1]}}}""";
        using var content = new StringContent(body, Encoding.UTF8, "application/json");
        using var response = await herald.Admin.Http.PostAsync($"/api/v1/apps/{app}/messages", content);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.BadRequest, $"{(int)response.StatusCode} {text}");
        using var problem = JsonDocument.Parse(text);
        Assert.True(problem.RootElement.GetProperty("errors").TryGetProperty(field, out _), text);
    }

    private async Task<(string Id, Uri Url)> EndpointAsync(string app, object settings)
    {
        var url = herald.Receiver.UrlFor(Guid.NewGuid().ToString("N"));
        var fields = JsonSerializer.SerializeToElement(settings, new JsonSerializerOptions(JsonSerializerDefaults.Web))
            .EnumerateObject().ToDictionary(p => p.Name, p => (object?)p.Value);
        fields["url"] = url;
        var endpoint = await herald.Admin.PostOkAsync($"/api/v1/apps/{app}/endpoints", fields);
        return (endpoint.GetProperty("id").GetString()!, url);
    }

    private async Task<string> SendAsync(string app, object message) =>
        (await herald.Admin.PostOkAsync($"/api/v1/apps/{app}/messages", message, HttpStatusCode.Accepted)).GetProperty("id").GetString()!;

    private List<string?> Received(Uri url) => [.. herald.Receiver.ReceivedAt(url).Select(w => w.MessageId).Distinct()];

    // A parallel endpoint's deliveries may arrive in any order.
    private static List<string?> Sorted(params string?[] ids) => [.. ids.Order(StringComparer.Ordinal)];

    private static List<string?> Ids(JsonElement page) => [.. page.GetProperty("data").EnumerateArray().Select(m => m.GetProperty("id").GetString())];
}
