using System.Net;
using System.Text.RegularExpressions;
using Aspire.Hosting.Testing;
using Grpc.Core;
using Herald.Grpc.V1;
using Herald.Tests.Delivery;
using Herald.Tests.Harness;
using Xunit.Abstractions;

namespace Herald.Tests.Observability;

/// <summary>
/// Issue 5, "must show" 1 and 3: traffic through the whole stack moves the API's and both Processor replicas'
/// counters by exactly what was sent, histograms observe it with buckets from 1 ms to 30 s, gauges settle back to
/// zero once idle, and every scrape passes <c>promtool check metrics</c>.
/// </summary>
[Collection(HeraldAppCollection.Name)]
public sealed partial class MetricsTests(HeraldAppFixture herald, ITestOutputHelper output)
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(45);
    private const string EventType = "order.created";

    [Fact]
    public async Task Counters_move_by_exactly_the_traffic_sent_histograms_observe_it_and_gauges_settle_to_zero()
    {
        var app = await herald.Admin.CreateApplicationAsync("Metrics");
        var key = await herald.Admin.CreateApplicationKeyAsync(app);
        var url = herald.Receiver.UrlFor("metrics-" + Guid.NewGuid().ToString("N"));
        await herald.Admin.CreateEndpointAsync(app, url);
        using var client = herald.Client(key);
        var messages = $"/api/v1/apps/{app}/messages";
        var before = await ScrapeAsync();

        // Accepted: 8 over REST, 1 over REST with an idempotency-key sent twice (the second is a replay), 1 over gRPC.
        for (var i = 0; i < 8; i++) await client.SendMessageAsync(app, EventType, new { n = i });
        var idempotencyKey = Guid.NewGuid().ToString();
        var first = await client.PostAsync(messages, new { eventType = EventType, payload = new { n = 8 } }, idempotencyKey);
        var replay = await client.PostAsync(messages, new { eventType = EventType, payload = new { n = 8 } }, idempotencyKey);
        Assert.Equal(HttpStatusCode.Accepted, first.Status);
        Assert.Equal("true", replay.Response.Headers.GetValues("idempotent-replayed").Single());
        await new Herald.Grpc.V1.Messages.MessagesClient(herald.Grpc).CreateAsync(
            new CreateMessageRequest { AppId = app, EventType = EventType, PayloadJson = """{"n":9}""" }, HeraldAppFixture.Bearer(key));
        const int accepted = 10;

        // Rejected: two invalid requests, and one for an application this key cannot see.
        Assert.Equal(HttpStatusCode.BadRequest, (await client.PostAsync(messages, new { payload = new { n = 0 } })).Status);
        Assert.Equal(HttpStatusCode.BadRequest, (await client.PostAsync(messages, new { eventType = EventType, payload = new[] { 1 } })).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await client.PostAsync("/api/v1/apps/app_not_mine/messages", new { eventType = EventType, payload = new { } })).Status);

        await herald.Receiver.WaitForRequestsAsync(url, accepted, Patience);
        var after = await EventuallyAsync(Idle, "the Processors to record every attempt and go idle");
        var (api, processors) = (after.Api, after.Processors);

        // Counters: exactly the traffic sent.
        Assert.Equal(accepted, api.Sum("herald_messages_accepted_total", s => s["application"] == app));
        Assert.Equal([EventType], api.Named("herald_messages_accepted_total", s => s["application"] == app).Select(s => s["event_type"]));
        Assert.Equal(2, Delta(before.Api, api, "herald_messages_rejected_total", s => s["reason"] == "validation"));
        Assert.Equal(1, Delta(before.Api, api, "herald_messages_rejected_total", s => s["reason"] == "not_found"));
        Assert.Equal(3, Delta(before.Api, api, "herald_messages_rejected_total"));
        Assert.Equal(1, Delta(before.Api, api, "herald_idempotency_replays_total", s => s["surface"] == "rest"));
        Assert.Equal(1, Delta(before.Api, api, "herald_grpc_server_duration_seconds_count",
            s => s["grpc_method"] == "herald.v1.Messages/Create" && s["grpc_status"] == "OK"));
        Assert.Equal(accepted, PrometheusText.Sum(processors, "herald_delivery_attempts_total", s => s["application"] == app && s["outcome"] == "success"));
        Assert.Equal(accepted, PrometheusText.Sum(processors, "herald_delivery_attempts_total", s => s["application"] == app));
        Assert.True(Delta(before.Processors, processors, "herald_fanout_deliveries_total") >= accepted);

        // Histograms: observations, in seconds, in buckets from 1 ms to 30 s (and on to a day for end-to-end lag).
        foreach (var histogram in (string[])["herald_delivery_http_duration_seconds", "herald_delivery_end_to_end_lag_seconds", "herald_delivery_consume_to_deliver_seconds"])
        {
            Assert.True(Delta(before.Processors, processors, histogram + "_count") >= accepted, histogram);
            AssertBuckets(processors, histogram);
        }
        Assert.Contains(processors.SelectMany(p => p.Named("herald_delivery_end_to_end_lag_seconds_bucket")), s => s["le"] == "86400");
        Assert.True(Delta(before.Api, api, "http_server_request_duration_seconds_count") >= accepted + 4);
        AssertBuckets([api], "http_server_request_duration_seconds");
        AssertBuckets([api], "herald_grpc_server_duration_seconds");
        AssertBuckets(processors, "http_client_request_duration_seconds");

        // Gauges: back to zero once idle (in-flight, consumer lag of both groups, backlogs), and the rest present.
        Assert.Equal(0, PrometheusText.Sum(processors, "herald_deliveries_in_flight"));
        foreach (var group in (string[])["herald-fanout", "herald-delivery"])
        {
            Assert.NotEmpty(processors.SelectMany(p => p.Named("herald_kafka_consumer_lag", s => s["consumer_group"] == group)));
            Assert.Equal(0, PrometheusText.Sum(processors, "herald_kafka_consumer_lag", s => s["consumer_group"] == group));
        }
        Assert.Equal(0, api.Sum("herald_outbox_unpublished"));
        Assert.Equal(0, api.Sum("herald_outbox_oldest_unpublished_age_seconds"));
        Assert.All(processors, p => Assert.Equal(0, p.Sum("herald_deliveries_due")));
        Assert.All(processors, p => Assert.Single(p.Named("herald_endpoints_breaker_open")));
        Assert.All(processors, p => Assert.Single(p.Named("herald_endpoints_disabled")));
        Assert.All([api, .. processors], scrape =>
        {
            Assert.Equal(25, scrape.Sum("db_client_connection_max", s => s["db_client_connection_pool_name"] == "herald"));
            Assert.Contains(scrape.Named("db_client_connection_usage"), s => s["db_client_connection_state"] == "used");
        });

        // No label per message, endpoint, URL or host anywhere.
        var unbounded = new[] { api }.Concat(processors).SelectMany(scrape => scrape.Samples).FirstOrDefault(s =>
            // The database's address is one server; HttpClient's and DNS's would be every customer's host.
            (s.Name.StartsWith("http_client", StringComparison.Ordinal) || s.Name.StartsWith("dns_", StringComparison.Ordinal))
                && s.Labels.Keys.Any(label => label is "server_address" or "server_port" or "dns_question_name" or "url_full")
            || s.Labels.Values.Any(value => value.StartsWith("msg_", StringComparison.Ordinal) || value.Contains("/webhooks/", StringComparison.Ordinal)));
        Assert.True(unbounded is null, $"A label per message, URL or host: {unbounded}");

        // promtool, Prometheus' own linter, accepts every scrape as served.
        foreach (var (name, scrape) in (IEnumerable<(string, PrometheusText)>)[("api", api), .. processors.Select((p, i) => ($"processor {i}", p))])
        {
            var (exitCode, promtool) = await scrape.CheckWithPromtoolAsync();
            Assert.True(exitCode == 0, $"promtool check metrics on the {name} scrape: {promtool}");
        }

        // The dashboard and the alert rules use only metrics the services serve.
        var served = new[] { api }.Concat(processors).SelectMany(s => s.Types.Keys).ToHashSet(StringComparer.Ordinal);
        var used = ObservabilityFiles.MetricNames().ToList();
        output.WriteLine($"dashboard and rules use {used.Count} metrics: {string.Join(", ", used)}");
        Assert.All(used, metric => Assert.True(served.Contains(metric), $"{metric} is used by deploy/observability but not served"));
    }

    [Fact]
    public async Task Every_grpc_call_is_authenticated_streams_included_and_measured_by_method_and_status()
    {
        var deliveries = new Herald.Grpc.V1.Deliveries.DeliveriesClient(herald.Grpc);
        var app = await herald.Admin.CreateApplicationAsync("Grpc metrics");
        var key = await herald.Admin.CreateApplicationKeyAsync(app);
        var before = await ScrapeApiAsync();

        // A server stream without a key, or with a wrong one, is refused before any handler or interceptor runs.
        foreach (var metadata in (Metadata[])[[], HeraldAppFixture.Bearer("hk_app_not_a_key")])
        {
            using var call = deliveries.WatchDeliveries(new WatchDeliveriesRequest { AppId = app }, metadata);
            var refused = await Assert.ThrowsAsync<RpcException>(() => call.ResponseStream.MoveNext());
            Assert.Equal(StatusCode.Unauthenticated, refused.StatusCode);
        }
        // Authenticated calls are measured with the status the client gets.
        using (var foreign = deliveries.WatchDeliveries(new WatchDeliveriesRequest { AppId = "app_not_mine" }, HeraldAppFixture.Bearer(key)))
        {
            Assert.Equal(StatusCode.NotFound, (await Assert.ThrowsAsync<RpcException>(() => foreign.ResponseStream.MoveNext())).StatusCode);
        }
        var messages = new Herald.Grpc.V1.Messages.MessagesClient(herald.Grpc);
        var missing = await Assert.ThrowsAsync<RpcException>(() =>
            messages.GetAsync(new MessageRef { AppId = app, MessageId = "msg_missing" }, HeraldAppFixture.Bearer(key)).ResponseAsync);
        Assert.Equal(StatusCode.NotFound, missing.StatusCode);
        await messages.ListAsync(new ListMessagesRequest { AppId = app }, HeraldAppFixture.Bearer(key));

        double Calls(PrometheusText scrape, string method, string status) =>
            scrape.Sum("herald_grpc_server_duration_seconds_count", s => s["grpc_method"] == method && s["grpc_status"] == status);
        // A call is measured when its handler has finished on the server, which can be just after the client has its
        // status: scrape until the three calls show (or 5 s have passed, and the asserts below say which did not).
        var after = await ScrapeApiAsync();
        for (var waited = 0; waited < 50 && (Calls(after, "herald.v1.Deliveries/WatchDeliveries", "NOT_FOUND") == Calls(before, "herald.v1.Deliveries/WatchDeliveries", "NOT_FOUND")
                                              || Calls(after, "herald.v1.Messages/List", "OK") == Calls(before, "herald.v1.Messages/List", "OK")); waited++)
        {
            await Task.Delay(100);
            after = await ScrapeApiAsync();
        }
        Assert.Equal(1, Calls(after, "herald.v1.Deliveries/WatchDeliveries", "NOT_FOUND") - Calls(before, "herald.v1.Deliveries/WatchDeliveries", "NOT_FOUND"));
        Assert.Equal(1, Calls(after, "herald.v1.Messages/Get", "NOT_FOUND") - Calls(before, "herald.v1.Messages/Get", "NOT_FOUND"));
        Assert.Equal(1, Calls(after, "herald.v1.Messages/List", "OK") - Calls(before, "herald.v1.Messages/List", "OK"));
        Assert.Equal(0, Calls(after, "herald.v1.Deliveries/WatchDeliveries", "UNAUTHENTICATED"));
    }

    private static bool Idle(Scrapes scrapes) =>
        PrometheusText.Sum(scrapes.Processors, "herald_deliveries_in_flight") == 0
        && scrapes.Processors.Any(p => p.Named("herald_kafka_consumer_lag").Any())
        && PrometheusText.Sum(scrapes.Processors, "herald_kafka_consumer_lag") == 0
        && scrapes.Api.Named("herald_outbox_unpublished").Any(s => s.Value == 0)
        && scrapes.Processors.All(p => p.Named("herald_deliveries_due").Any(s => s.Value == 0));

    private static double Delta(PrometheusText before, PrometheusText after, string name, Func<PrometheusSample, bool>? where = null) =>
        after.Sum(name, where) - before.Sum(name, where);

    private static double Delta(IEnumerable<PrometheusText> before, IEnumerable<PrometheusText> after, string name, Func<PrometheusSample, bool>? where = null) =>
        PrometheusText.Sum(after, name, where) - PrometheusText.Sum(before, name, where);

    private static void AssertBuckets(IEnumerable<PrometheusText> scrapes, string histogram)
    {
        var bounds = scrapes.SelectMany(s => s.Named(histogram + "_bucket")).Select(s => s["le"]).ToHashSet();
        Assert.True(bounds.Contains("0.001") && bounds.Contains("30"), $"{histogram} buckets: {string.Join(" ", bounds)}");
    }

    private sealed record Scrapes(PrometheusText Api, IReadOnlyList<PrometheusText> Processors);

    private async Task<Scrapes> ScrapeAsync() => new(await ScrapeApiAsync(), await herald.ScrapeProcessorsAsync());

    private async Task<PrometheusText> ScrapeApiAsync()
    {
        using var http = herald.App.CreateHttpClient("api", Herald.ServiceDefaults.Health.ManagementPort.EndpointName);
        return PrometheusText.Parse(await http.GetStringAsync("/metrics"));
    }

    /// <summary>Scrapes until <paramref name="done"/> holds (gauges are sampled every few seconds) or patience runs out;
    /// the assertions that follow say what did not hold.</summary>
    private async Task<Scrapes> EventuallyAsync(Func<Scrapes, bool> done, string what)
    {
        var started = DateTime.UtcNow;
        while (true)
        {
            var scrapes = await ScrapeAsync();
            if (done(scrapes) || DateTime.UtcNow - started > Patience)
            {
                output.WriteLine($"Waited {(DateTime.UtcNow - started).TotalSeconds:0.0} s for {what}.");
                return scrapes;
            }
            await Task.Delay(500);
        }
    }
}

/// <summary>The files in <c>deploy/observability/</c>: Grafana dashboards and Prometheus rule files.</summary>
public static partial class ObservabilityFiles
{
    public static string Directory => Path.Combine(AppHostPublish.RepositoryRoot(), "deploy", "observability");

    public static IEnumerable<string> RuleFiles => System.IO.Directory.EnumerateFiles(Directory, "*.rules.yml");

    /// <summary>Every Prometheus metric family a dashboard or rule names (series suffixes folded into their family).</summary>
    public static IEnumerable<string> MetricNames() =>
        System.IO.Directory.EnumerateFiles(Directory)
            .Where(file => file.EndsWith(".json", StringComparison.Ordinal) || file.EndsWith(".rules.yml", StringComparison.Ordinal))
            .SelectMany(file => MetricName().Matches(File.ReadAllText(file)).Select(m => m.Value))
            .Select(name => HistogramSeries().Replace(name, ""))
            .Distinct(StringComparer.Ordinal)
            .Order(StringComparer.Ordinal);

    // A label matcher (db_client_connection_state="used") names a label, not a metric.
    [GeneratedRegex(@"\b(herald|http_server|http_client|db_client|dotnet|kestrel)_[a-z0-9_]+\b(?!\s*(=|!=|=~|!~))")]
    private static partial Regex MetricName();

    // histogram_quantile(…_bucket), …_sum / …_count name the histogram's family.
    [GeneratedRegex("_(bucket|sum|count)$")]
    private static partial Regex HistogramSeries();
}
