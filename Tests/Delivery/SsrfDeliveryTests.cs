using System.Text.Json;
using Herald.Tests.Harness;

namespace Herald.Tests.Delivery;

/// <summary>The running Processor (service defaults, configuration and all) refuses internal destinations, while the
/// fixture's allowed loopback receiver keeps getting deliveries (<see cref="SignedDeliveryTests"/>).</summary>
[Collection(HeraldAppCollection.Name)]
public sealed class SsrfDeliveryTests(HeraldAppFixture herald)
{
    [Theory]
    [InlineData("http://169.254.169.254/latest/meta-data/")]
    [InlineData("http://10.0.0.1/hook")]
    [InlineData("http://[fd00:ec2::254]/latest/meta-data/")]
    public async Task A_delivery_to_an_internal_address_is_refused_and_recorded_as_ssrf_blocked(string url)
    {
        var app = await herald.Admin.CreateApplicationAsync();
        await herald.Admin.CreateEndpointAsync(app, new Uri(url));
        var messageId = await herald.Admin.SendMessageAsync(app, "invoice.paid", new { n = 1 });

        var attempt = await FirstAttemptAsync(app, messageId);

        Assert.Equal("failed", attempt.GetProperty("status").GetString());
        Assert.Equal("ssrf-blocked", attempt.GetProperty("error").GetString());
        Assert.Equal(JsonValueKind.Null, attempt.GetProperty("httpStatus").ValueKind);
    }

    private async Task<JsonElement> FirstAttemptAsync(string app, string messageId)
    {
        for (var i = 0; i < 300; i++)
        {
            var (_, attempts, _) = await herald.Admin.GetAsync($"/api/v1/apps/{app}/messages/{messageId}/attempts");
            if (attempts.GetProperty("data").GetArrayLength() > 0) return attempts.GetProperty("data")[0];
            await Task.Delay(100);
        }
        throw new TimeoutException($"No attempt was recorded for {messageId} within 30 s.");
    }
}
