using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Herald.Tests.Infrastructure;
using StandardWebhooks;
using StandardWebhooks.Diagnostics;

namespace Herald.Tests.Skeleton;

/// <summary>The smallest real path: API → PostgreSQL → Kafka → Processor → a signed POST to the receiver.</summary>
[Collection(HeraldAppCollection.Name)]
public sealed class WalkingSkeletonTests(HeraldAppFixture herald)
{
    private static readonly TimeSpan DeliveryTimeout = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task A_posted_message_arrives_at_the_endpoint_signed_with_its_secret()
    {
        var response = await herald.Api.PostAsJsonAsync("/api/v1/messages", new
        {
            eventType = "invoice.paid",
            payload = new { invoice = "in_123", amount = 4200, currency = "EUR" },
        });

        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var accepted = await response.Content.ReadFromJsonAsync<JsonElement>();
        var messageId = accepted.GetProperty("id").GetString()!;
        Assert.StartsWith("msg_", messageId);
        Assert.Equal($"/api/v1/messages/{messageId}", response.Headers.Location?.OriginalString);

        var webhook = await herald.Receiver.WaitForAsync(messageId, DeliveryTimeout);

        // The receiver's view: the Standard Webhooks verifier accepts it with the endpoint's secret...
        new StandardWebhook(herald.EndpointSecret).Verify(webhook.Body, webhook.HeaderDictionary());
        using var body = JsonDocument.Parse(webhook.Body);
        Assert.Equal("in_123", body.RootElement.GetProperty("invoice").GetString());
        Assert.Equal(4200, body.RootElement.GetProperty("amount").GetInt32());
        Assert.Equal("/webhooks", webhook.Path);
        Assert.StartsWith("application/json", webhook.Headers["content-type"]);
        Assert.StartsWith("Herald-Webhooks/", webhook.Headers["user-agent"]);

        // ...and rejects the same request if the body was altered or the secret is another one.
        Assert.Throws<WebhookVerificationException>(() =>
            new StandardWebhook(herald.EndpointSecret).Verify(webhook.Body.Replace("4200", "4201"), webhook.HeaderDictionary()));
        var otherSecret = "whsec_" + Convert.ToBase64String(new byte[32]);
        Assert.Throws<WebhookVerificationException>(() =>
            new StandardWebhook(otherSecret).Verify(webhook.Body, webhook.HeaderDictionary()));
    }

    [Fact]
    public async Task An_accepted_message_is_stored_and_marked_published()
    {
        var response = await herald.Api.PostAsJsonAsync("/api/v1/messages", new { eventType = "user.created", payload = new { id = 7 } });
        var accepted = await response.Content.ReadFromJsonAsync<JsonElement>();
        var messageId = accepted.GetProperty("id").GetString()!;

        var stored = await herald.Api.GetFromJsonAsync<JsonElement>($"/api/v1/messages/{messageId}");

        Assert.Equal("user.created", stored.GetProperty("eventType").GetString());
        Assert.Equal(7, stored.GetProperty("payload").GetProperty("id").GetInt32());
        Assert.Equal(JsonValueKind.String, stored.GetProperty("publishedAt").ValueKind);
        Assert.Equal(accepted.GetProperty("createdAt").GetDateTimeOffset(), stored.GetProperty("createdAt").GetDateTimeOffset());
    }

    [Theory]
    [InlineData("""{"eventType":"invoice.paid","payload":[1,2]}""", "payload")]
    [InlineData("""{"eventType":"not valid!","payload":{}}""", "eventType")]
    [InlineData("""{"payload":{}}""", "eventType")]
    public async Task Invalid_messages_are_rejected_with_a_problem_naming_the_field(string json, string field)
    {
        using var content = new StringContent(json, System.Text.Encoding.UTF8, "application/json");
        var response = await herald.Api.PostAsync("/api/v1/messages", content);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.True(problem.GetProperty("errors").TryGetProperty(field, out _), $"No error for {field}: {problem}");
    }

    [Fact]
    public async Task An_unknown_message_is_404()
    {
        var response = await herald.Api.GetAsync("/api/v1/messages/msg_00000000000000000000000000");
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
    }
}
