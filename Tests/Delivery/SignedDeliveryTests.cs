using System.Text.Json;
using Herald.Tests.Harness;
using StandardWebhooks;
using StandardWebhooks.Diagnostics;

namespace Herald.Tests.Delivery;

/// <summary>The whole path: API → PostgreSQL → Kafka → Processor → a signed POST to a real receiver.</summary>
[Collection(HeraldAppCollection.Name)]
public sealed class SignedDeliveryTests(HeraldAppFixture herald)
{
    private static readonly TimeSpan DeliveryTimeout = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task A_message_arrives_at_its_endpoint_signed_with_the_endpoint_secret()
    {
        var app = await herald.Admin.CreateApplicationAsync();
        var url = herald.Receiver.UrlFor(Guid.NewGuid().ToString("N"));
        var (_, secret) = await herald.Admin.CreateEndpointAsync(app, url);

        var messageId = await herald.Admin.SendMessageAsync(app, "invoice.paid", new { invoice = "in_123", amount = 4200, currency = "EUR" });
        var webhook = await herald.Receiver.WaitForAsync(messageId, DeliveryTimeout, url.AbsolutePath);

        // The receiver's view: the Standard Webhooks verifier accepts it with the endpoint's secret...
        new StandardWebhook(secret).Verify(webhook.Body, webhook.HeaderDictionary());
        using var body = JsonDocument.Parse(webhook.Body);
        Assert.Equal("in_123", body.RootElement.GetProperty("invoice").GetString());
        Assert.Equal(4200, body.RootElement.GetProperty("amount").GetInt32());
        Assert.StartsWith("application/json", webhook.Headers["content-type"]);
        Assert.StartsWith("Herald-Webhooks/", webhook.Headers["user-agent"]);

        // ...and rejects it if the body was altered or the secret is another one.
        Assert.Throws<WebhookVerificationException>(() =>
            new StandardWebhook(secret).Verify(webhook.Body.Replace("4200", "4201"), webhook.HeaderDictionary()));
        Assert.Throws<WebhookVerificationException>(() =>
            new StandardWebhook("whsec_" + Convert.ToBase64String(new byte[32])).Verify(webhook.Body, webhook.HeaderDictionary()));
    }

    [Fact]
    public async Task The_payload_is_delivered_byte_for_byte_as_the_client_sent_it()
    {
        var app = await herald.Admin.CreateApplicationAsync();
        var url = herald.Receiver.UrlFor(Guid.NewGuid().ToString("N"));
        await herald.Admin.CreateEndpointAsync(app, url);
        const string payload = "{ \"z\": 1,  \"a\" : [1.50, \"\\u00e9\", null],\n \"nested\": {\"k\": true} }";

        var accepted = await herald.Admin.PostOkAsync($"/api/v1/apps/{app}/messages",
            $$"""{"eventType":"raw.check","payload":{{payload}}}""", System.Net.HttpStatusCode.Accepted);
        var webhook = await herald.Receiver.WaitForAsync(accepted.GetProperty("id").GetString()!, DeliveryTimeout, url.AbsolutePath);

        Assert.Equal(payload, webhook.Body);
    }

    [Fact]
    public async Task Only_enabled_endpoints_whose_filter_matches_receive_a_message()
    {
        var app = await herald.Admin.CreateApplicationAsync();
        var all = herald.Receiver.UrlFor("all-" + Guid.NewGuid().ToString("N"));
        var invoices = herald.Receiver.UrlFor("invoices-" + Guid.NewGuid().ToString("N"));
        var users = herald.Receiver.UrlFor("users-" + Guid.NewGuid().ToString("N"));
        var disabled = herald.Receiver.UrlFor("disabled-" + Guid.NewGuid().ToString("N"));
        await herald.Admin.CreateEndpointAsync(app, all);
        await herald.Admin.CreateEndpointAsync(app, invoices, ["invoice.paid"]);
        await herald.Admin.CreateEndpointAsync(app, users, ["user.created"]);
        await herald.Admin.PostOkAsync($"/api/v1/apps/{app}/endpoints", new { url = disabled, disabled = true });

        var messageId = await herald.Admin.SendMessageAsync(app, "invoice.paid", new { n = 1 });
        await herald.Receiver.WaitForAsync(messageId, DeliveryTimeout, all.AbsolutePath);
        await herald.Receiver.WaitForAsync(messageId, DeliveryTimeout, invoices.AbsolutePath);
        // Both deliveries that should happen have; give the others the same chance to show up wrongly.
        await Task.Delay(TimeSpan.FromSeconds(1));

        var paths = herald.Receiver.ReceivedFor(messageId).Select(w => w.Path).ToList();
        Assert.Equal(2, paths.Count);
        Assert.DoesNotContain(users.AbsolutePath, paths);
        Assert.DoesNotContain(disabled.AbsolutePath, paths);
    }

    [Fact]
    public async Task After_rotation_webhooks_carry_a_signature_for_the_new_and_the_old_secret()
    {
        var app = await herald.Admin.CreateApplicationAsync();
        var url = herald.Receiver.UrlFor(Guid.NewGuid().ToString("N"));
        var (endpoint, oldSecret) = await herald.Admin.CreateEndpointAsync(app, url);
        var (status, _, _) = await herald.Admin.PostAsync($"/api/v1/apps/{app}/endpoints/{endpoint}/secret/rotate", null);
        Assert.Equal(System.Net.HttpStatusCode.NoContent, status);
        var (_, current, _) = await herald.Admin.GetAsync($"/api/v1/apps/{app}/endpoints/{endpoint}/secret");
        var newSecret = current.GetProperty("key").GetString()!;
        Assert.NotEqual(oldSecret, newSecret);

        var messageId = await herald.Admin.SendMessageAsync(app, "invoice.paid", new { n = 2 });
        var webhook = await herald.Receiver.WaitForAsync(messageId, DeliveryTimeout, url.AbsolutePath);

        var signatures = webhook.Headers["webhook-signature"].Split(' ');
        Assert.Equal(2, signatures.Length);
        // Newest first: the package verifier reads only the first signature, so receivers on the new secret pass.
        new StandardWebhook(newSecret).Verify(webhook.Body, webhook.HeaderDictionary());
        // Each signature verifies on its own with its own secret.
        new StandardWebhook(newSecret).Verify(webhook.Body, WithSignature(webhook, signatures[0]));
        new StandardWebhook(oldSecret).Verify(webhook.Body, WithSignature(webhook, signatures[1]));
        Assert.Throws<WebhookVerificationException>(() => new StandardWebhook(oldSecret).Verify(webhook.Body, WithSignature(webhook, signatures[0])));
    }

    private static Microsoft.AspNetCore.Http.HeaderDictionary WithSignature(ReceivedWebhook webhook, string signature)
    {
        var headers = webhook.HeaderDictionary();
        headers["webhook-signature"] = signature;
        return headers;
    }

    [Fact]
    public async Task Every_attempt_is_recorded_and_listed_by_message_and_by_endpoint()
    {
        var app = await herald.Admin.CreateApplicationAsync();
        var url = herald.Receiver.UrlFor(Guid.NewGuid().ToString("N"));
        var (endpoint, _) = await herald.Admin.CreateEndpointAsync(app, url);
        var messageId = await herald.Admin.SendMessageAsync(app, "invoice.paid", new { n = 3 });
        await herald.Receiver.WaitForAsync(messageId, DeliveryTimeout, url.AbsolutePath);

        JsonElement attempts = default;
        for (var i = 0; i < 50; i++)
        {
            (_, attempts, _) = await herald.Admin.GetAsync($"/api/v1/apps/{app}/messages/{messageId}/attempts");
            if (attempts.GetProperty("data").GetArrayLength() > 0) break;
            await Task.Delay(100);
        }
        var attempt = Assert.Single(attempts.GetProperty("data").EnumerateArray());
        Assert.Equal("succeeded", attempt.GetProperty("status").GetString());
        Assert.Equal(204, attempt.GetProperty("httpStatus").GetInt32());
        Assert.Equal(endpoint, attempt.GetProperty("endpointId").GetString());

        var (_, byEndpoint, _) = await herald.Admin.GetAsync($"/api/v1/apps/{app}/endpoints/{endpoint}/attempts");
        Assert.Equal(attempt.GetProperty("id").GetString(), byEndpoint.GetProperty("data")[0].GetProperty("id").GetString());
    }
}
