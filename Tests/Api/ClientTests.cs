using Aspire.Hosting.Testing;
using Herald.Client;
using Herald.Client.Generated;
using Herald.Client.Generated.Models;
using Herald.Tests.Harness;
using Microsoft.Kiota.Abstractions;

namespace Herald.Tests.Api;

/// <summary>The generated .NET client (clients/dotnet) and its hand-written layer, against the running API: what a
/// team's backend would do with it, and what its receiver would do with the webhooks.</summary>
[Collection(HeraldAppCollection.Name)]
public sealed class ClientTests(HeraldAppFixture herald)
{
    private static readonly TimeSpan DeliveryTimeout = TimeSpan.FromSeconds(30);

    private HeraldApiClient Connect(string apiKey) => HeraldClient.Create(herald.App.GetEndpoint("api", "http"), apiKey);

    [Fact]
    public async Task A_backend_sets_up_an_application_and_sends_a_message_idempotently_and_the_receiver_verifies_it()
    {
        var admin = Connect(herald.AdminKey);
        var app = (await admin.Api.V1.Apps.PostAsync(new ApplicationInput { Name = "client app" }))!;
        var key = (await admin.Api.V1.Apps[app.Id].ApiKeys.PostAsync(new ApiKeyInput { Name = "backend" }))!;
        var api = Connect(key.Key!);

        var url = herald.Receiver.UrlFor("client-" + Guid.NewGuid().ToString("N"));
        var endpoint = (await api.Api.V1.Apps[app.Id].Endpoints.PostAsync(new EndpointInput { Url = url.ToString(), EventTypes = ["invoice.paid"] }))!;
        var secret = (await api.Api.V1.Apps[app.Id].Endpoints[endpoint.Id].Secret.GetAsync())!.Key!;

        // The same idempotency key twice: one message.
        var body = new CreateMessageInput { EventType = "invoice.paid", Payload = Payloads.From(new { invoice = "in_1", amount = 4200 }) };
        var idempotencyKey = "invoice-in_1-paid-" + Guid.NewGuid().ToString("N");
        var first = (await api.Api.V1.Apps[app.Id].Messages.PostAsync(body, Idempotency.Key(idempotencyKey)))!;
        var again = (await api.Api.V1.Apps[app.Id].Messages.PostAsync(body, Idempotency.Key(idempotencyKey)))!;
        Assert.Equal(first.Id, again.Id);

        var webhook = await herald.Receiver.WaitForAsync(first.Id!, DeliveryTimeout, url.AbsolutePath);
        Assert.Contains("\"amount\":4200", webhook.Body);
        new WebhookVerifier(secret).Verify(webhook.Body, webhook.Headers);
        var verifier = new WebhookVerifier(secret);
        Assert.Throws<WebhookVerificationException>(() => verifier.Verify(webhook.Body.Replace("4200", "4201"), webhook.Headers));
        var later = new WebhookVerifier([secret], time: new ShiftedTime(TimeSpan.FromMinutes(6)));
        Assert.Throws<WebhookVerificationException>(() => later.Verify(webhook.Body, webhook.Headers));

        // After a rotation webhooks carry both signatures: a receiver still on the old secret keeps verifying them.
        await api.Api.V1.Apps[app.Id].Endpoints[endpoint.Id].Secret.Rotate.PostAsync(new RotateSecretInput());
        var rotated = (await api.Api.V1.Apps[app.Id].Endpoints[endpoint.Id].Secret.GetAsync())!.Key!;
        var next = (await api.Api.V1.Apps[app.Id].Messages.PostAsync(body, Idempotency.Key()))!;
        var signedTwice = await herald.Receiver.WaitForAsync(next.Id!, DeliveryTimeout, url.AbsolutePath);
        new WebhookVerifier(secret).Verify(signedTwice.Body, signedTwice.Headers);
        new WebhookVerifier(rotated).Verify(signedTwice.Body, signedTwice.Headers);
        var stranger = new WebhookVerifier("whsec_" + Convert.ToBase64String(new byte[32]));
        Assert.Throws<WebhookVerificationException>(() => stranger.Verify(signedTwice.Body, signedTwice.Headers));

        // Lists page and filter with typed parameters (newest first).
        var listed = (await api.Api.V1.Apps[app.Id].Messages.GetAsync(request =>
        {
            request.QueryParameters.EventType = ["invoice.paid"];
            request.QueryParameters.Limit = 1;
        }))!;
        Assert.Equal(next.Id, Assert.Single(listed.Data!).Id);
        Assert.False(listed.Done);
        var failed = (await api.Api.V1.Apps[app.Id].Messages.GetAsync(request => request.QueryParameters.Status = "failed"))!;
        Assert.Empty(failed.Data!);
    }

    [Fact]
    public async Task The_api_errors_reach_the_client_as_its_exceptions_with_their_status_and_problem()
    {
        var api = Connect(herald.AdminKey);
        var missing = await Assert.ThrowsAnyAsync<ApiException>(() => api.Api.V1.Apps["app_missing"].GetAsync());
        Assert.Equal(404, missing.ResponseStatusCode);
        var invalid = await Assert.ThrowsAsync<ProblemDetails>(() => api.Api.V1.Apps.PostAsync(new ApplicationInput { Name = "" }));
        Assert.Equal((400, 400), (invalid.ResponseStatusCode, invalid.Status));
        // The document's problem schema: the client raises Herald's own words, field by field.
        Assert.Contains("name", invalid.Errors!.AdditionalData.Keys);
        Assert.Contains("name", Herald.Operator.Reconcilers.HeraldCalls.Describe(invalid), StringComparison.Ordinal);
        var anonymous = await Assert.ThrowsAnyAsync<ApiException>(() => Connect("hk_app_not-a-key").Api.V1.Apps.GetAsync());
        Assert.Equal(401, anonymous.ResponseStatusCode);
    }

    private sealed class ShiftedTime(TimeSpan by) : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => System.GetUtcNow() + by;
    }
}
