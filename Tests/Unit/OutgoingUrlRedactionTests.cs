using System.Diagnostics;
using Herald.Deliveries;
using Herald.Processor.Delivery;
using Herald.ServiceDefaults.Telemetry;
using Herald.Tests.Harness;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using OpenTelemetry.Trace;

namespace Herald.Tests.Unit;

/// <summary>A webhook's span, as the service defaults export it, names the endpoint's origin but none of the
/// credential its path or query may carry.</summary>
public sealed class OutgoingUrlRedactionTests
{
    [Fact]
    public async Task The_exported_span_of_a_webhook_keeps_the_origin_and_drops_path_query_and_user_info()
    {
        await using var receiver = new WebhookReceiver();
        await receiver.StartAsync();
        var exported = new List<Activity>();
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?> { ["Herald:Delivery:AllowedNetworks:0"] = "127.0.0.0/8" });
        builder.AddHeraldTelemetry();
        builder.Services.ConfigureOpenTelemetryTracerProvider(tracing => tracing.AddInMemoryExporter(exported));
        builder.AddWebhookDelivery();
        var host = builder.Build();
        await host.StartAsync();

        var url = new Uri(receiver.Url, "/webhooks/T0/B0/s3cr3t-path?token=s3cr3t-query");
        var endpoint = new EndpointTarget("ep_1", "app_1", url, ["whsec_" + Convert.ToBase64String(new byte[32])], new Dictionary<string, string>(), host.Services.GetRequiredService<RetrySchedule>());
        var attempt = await host.Services.GetRequiredService<WebhookSender>().SendAsync(endpoint,
            new DeliveryTask("msg_1", "ep_1", "app_1", "invoice.paid", "{}", DateTimeOffset.UtcNow, 1, DateTimeOffset.UtcNow), default);
        await host.StopAsync();
        // Disposing the tracer provider stops the export: listeners are process-wide, and another test's HTTP call
        // exported into the list while it is read would break the enumeration.
        host.Dispose();

        Assert.True(attempt.Succeeded, attempt.Error);
        // Listeners are process-wide: other tests' HTTP calls running meanwhile are exported too. Ours went to this receiver.
        var span = Assert.Single(exported, a => a.Source.Name == OutgoingUrlRedaction.HttpClientSource
                                                && a.GetTagItem("url.full")?.ToString()?.StartsWith($"http://{url.Authority}/", StringComparison.Ordinal) == true);
        Assert.Equal($"http://{url.Authority}/REDACTED", span.GetTagItem("url.full"));
        Assert.DoesNotContain(span.TagObjects, tag => tag.Value?.ToString()?.Contains("s3cr3t", StringComparison.Ordinal) == true);
        Assert.DoesNotContain("s3cr3t", span.DisplayName, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("https://hooks.example.com/services/T0/B0/secret", "https://hooks.example.com/REDACTED")]
    [InlineData("https://example.com:8443/?token=secret", "https://example.com:8443/REDACTED")]
    [InlineData("https://user:secret@example.com/", "https://example.com/REDACTED")]
    [InlineData("https://example.com/", "https://example.com/")]
    [InlineData("not a url", "REDACTED")]
    public void Anything_after_the_origin_is_redacted(string url, string expected) =>
        Assert.Equal(expected, OutgoingUrlRedaction.Redact(url));
}
