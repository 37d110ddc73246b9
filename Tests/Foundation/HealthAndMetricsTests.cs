using System.Net;
using System.Text.Json;
using Aspire.Hosting.Testing;
using Herald.ServiceDefaults.Health;
using Herald.Tests.Harness;

namespace Herald.Tests.Foundation;

[Collection(HeraldAppCollection.Name)]
public sealed class HealthAndMetricsTests(HeraldAppFixture herald)
{
    public static TheoryData<string> Services => ["api", "processor"];

    [Theory]
    [MemberData(nameof(Services))]
    public async Task Liveness_checks_only_the_process(string service)
    {
        using var http = herald.App.CreateHttpClient(service, ManagementPort.EndpointName);
        var response = await http.GetAsync("/healthz");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var checks = await ChecksAsync(response);
        Assert.Equal(["self"], checks.Keys);
    }

    [Theory]
    [MemberData(nameof(Services))]
    public async Task Readiness_reports_postgres_redis_kafka_and_draining(string service)
    {
        using var http = herald.App.CreateHttpClient(service, ManagementPort.EndpointName);
        var response = await http.GetAsync("/readyz");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var checks = await ChecksAsync(response);
        string[] expected = service == "processor"
            ? ["consumers", "draining", "kafka", "postgres", "redis", "self"]
            : ["draining", "kafka", "postgres", "redis", "self"];
        Assert.Equal(expected, checks.Keys.Order(StringComparer.Ordinal));
        Assert.All(checks.Values, status => Assert.Equal("Healthy", status));
    }

    [Theory]
    [MemberData(nameof(Services))]
    public async Task Metrics_are_served_in_prometheus_text_format(string service)
    {
        using var http = herald.App.CreateHttpClient(service, ManagementPort.EndpointName);
        var response = await http.GetAsync("/metrics");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/plain", response.Content.Headers.ContentType?.MediaType);
        var text = await response.Content.ReadAsStringAsync();
        Assert.Contains("# TYPE ", text);
        Assert.Contains($"service_name=\"{service}\"", text);
        Assert.Contains("dotnet_gc_collections_total", text);
    }

    [Theory]
    [MemberData(nameof(Services))]
    public async Task The_public_port_serves_no_probe_or_metrics_and_the_management_port_nothing_else(string service)
    {
        using var @public = herald.App.CreateHttpClient(service, "http");
        using var management = herald.App.CreateHttpClient(service, ManagementPort.EndpointName);

        foreach (var path in (string[])["/healthz", "/readyz", "/metrics"])
        {
            Assert.Equal(HttpStatusCode.OK, (await management.GetAsync(path)).StatusCode);
            Assert.Equal(HttpStatusCode.NotFound, (await @public.GetAsync(path)).StatusCode);
            // The port the connection arrived on decides, not a Host header naming the management port.
            using var disguised = new HttpRequestMessage(HttpMethod.Get, path) { Headers = { Host = management.BaseAddress!.Authority } };
            Assert.Equal(HttpStatusCode.NotFound, (await @public.SendAsync(disguised)).StatusCode);
        }
        Assert.Equal(HttpStatusCode.NotFound, (await management.GetAsync("/api/v1/apps")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await management.GetAsync("/")).StatusCode);
    }

    private static async Task<Dictionary<string, string>> ChecksAsync(HttpResponseMessage response)
    {
        var report = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
        return report.GetProperty("checks").EnumerateObject()
            .ToDictionary(check => check.Name, check => check.Value.GetProperty("status").GetString()!);
    }
}
