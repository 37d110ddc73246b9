using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Grpc.Core;
using Herald.Tests.Harness;
using StandardWebhooks;

namespace Herald.Tests.Api;

/// <summary>A test event goes to the one endpoint it was sent to, whatever that endpoint subscribes to, and to no other.</summary>
[Collection(HeraldAppCollection.Name)]
public sealed class TestEventTests(HeraldAppFixture herald)
{
    private static readonly TimeSpan DeliveryTimeout = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task A_test_event_reaches_only_its_endpoint_signed_even_outside_its_event_types()
    {
        var app = await herald.Admin.CreateApplicationAsync();
        var target = herald.Receiver.UrlFor("test-event-" + Guid.NewGuid().ToString("N"));
        var everything = herald.Receiver.UrlFor("test-event-all-" + Guid.NewGuid().ToString("N"));
        var (endpoint, secret) = await herald.Admin.CreateEndpointAsync(app, target, ["invoice.paid"]);
        await herald.Admin.CreateEndpointAsync(app, everything);

        var sent = await herald.Admin.PostOkAsync($"/api/v1/apps/{app}/endpoints/{endpoint}/test-event", new { }, HttpStatusCode.Accepted);
        Assert.Equal("herald.test", sent.GetProperty("eventType").GetString());
        var messageId = sent.GetProperty("id").GetString()!;
        var webhook = await herald.Receiver.WaitForAsync(messageId, DeliveryTimeout, target.AbsolutePath);
        new StandardWebhook(secret).Verify(webhook.Body, webhook.HeaderDictionary());
        using (var body = JsonDocument.Parse(webhook.Body)) Assert.Equal(endpoint, body.RootElement.GetProperty("endpointId").GetString());

        // A named type, sent as a stream (no Content-Length): the body is read all the same.
        using var streamed = new HttpRequestMessage(HttpMethod.Post, $"/api/v1/apps/{app}/endpoints/{endpoint}/test-event")
        {
            Content = JsonContent.Create(new { eventType = "order.created" }),
        };
        using var response = await herald.Admin.Http.SendAsync(streamed);
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var named = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetString()!;
        var arrived = await herald.Receiver.WaitForAsync(named, DeliveryTimeout, target.AbsolutePath);
        using (var body = JsonDocument.Parse(arrived.Body)) Assert.Equal("order.created", body.RootElement.GetProperty("type").GetString());

        // The message and its one delivery are in the log like any other.
        var deliveries = (await herald.Admin.GetAsync($"/api/v1/apps/{app}/messages/{messageId}/deliveries")).Body.GetProperty("data");
        Assert.Equal(endpoint, Assert.Single(deliveries.EnumerateArray()).GetProperty("endpointId").GetString());
        // The sweep redoes the fan-out of messages with no delivery after 2 s here: the endpoint that takes everything
        // still has nothing well past that.
        await Task.Delay(TimeSpan.FromSeconds(4));
        Assert.Empty(herald.Receiver.ReceivedAt(everything));
    }

    [Fact]
    public async Task A_test_event_is_refused_for_a_disabled_missing_or_foreign_endpoint_or_a_bad_type()
    {
        var app = await herald.Admin.CreateApplicationAsync();
        var other = await herald.Admin.CreateApplicationAsync("Other");
        var (endpoint, _) = await herald.Admin.CreateEndpointAsync(app, herald.Receiver.UrlFor("test-event-refused-" + Guid.NewGuid().ToString("N")));
        var (foreign, _) = await herald.Admin.CreateEndpointAsync(other, herald.Receiver.UrlFor("test-event-foreign-" + Guid.NewGuid().ToString("N")));
        using var tenant = herald.Client(await herald.Admin.CreateApplicationKeyAsync(app));

        Assert.Equal(HttpStatusCode.BadRequest, (await tenant.PostAsync($"/api/v1/apps/{app}/endpoints/{endpoint}/test-event", new { eventType = "not valid!" })).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await tenant.PostAsync($"/api/v1/apps/{app}/endpoints/ep_missing/test-event", null)).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await tenant.PostAsync($"/api/v1/apps/{other}/endpoints/{foreign}/test-event", null)).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await tenant.PostAsync($"/api/v1/apps/{app}/endpoints/{foreign}/test-event", null)).Status);

        var current = (await tenant.GetAsync($"/api/v1/apps/{app}/endpoints/{endpoint}")).Body;
        Assert.Equal(HttpStatusCode.OK, (await tenant.PutAsync($"/api/v1/apps/{app}/endpoints/{endpoint}",
            new { url = current.GetProperty("url").GetString(), disabled = true })).Status);
        Assert.Equal(HttpStatusCode.Conflict, (await tenant.PostAsync($"/api/v1/apps/{app}/endpoints/{endpoint}/test-event", null)).Status);
    }

    [Fact]
    public async Task A_test_event_is_sent_over_gRPC_too()
    {
        var app = await herald.Admin.CreateApplicationAsync();
        var url = herald.Receiver.UrlFor("test-event-grpc-" + Guid.NewGuid().ToString("N"));
        var (endpoint, _) = await herald.Admin.CreateEndpointAsync(app, url);
        var endpoints = new Herald.Grpc.V1.Endpoints.EndpointsClient(herald.Grpc);
        var auth = HeraldAppFixture.Bearer(herald.AdminKey);

        var sent = await endpoints.SendTestEventAsync(new() { AppId = app, EndpointId = endpoint, EventType = "ping" }, auth);
        Assert.Equal("ping", sent.EventType);
        await herald.Receiver.WaitForAsync(sent.Id, DeliveryTimeout, url.AbsolutePath);
        var missing = await Assert.ThrowsAsync<RpcException>(async () =>
            await endpoints.SendTestEventAsync(new() { AppId = app, EndpointId = "ep_missing" }, auth));
        Assert.Equal(StatusCode.NotFound, missing.StatusCode);
    }

    [Fact]
    public async Task Messages_are_filtered_by_the_state_of_their_deliveries()
    {
        var app = await herald.Admin.CreateApplicationAsync();
        var failing = herald.Receiver.UrlFor("status-filter-" + Guid.NewGuid().ToString("N"));
        herald.Receiver.ReplyAt(failing, new Reply(500));
        var (endpoint, _) = await herald.Admin.CreateEndpointAsync(app, failing, ["will.fail"]);
        var ok = herald.Receiver.UrlFor("status-filter-ok-" + Guid.NewGuid().ToString("N"));
        await herald.Admin.CreateEndpointAsync(app, ok, ["will.pass"]);
        var failed = await herald.Admin.SendMessageAsync(app, "will.fail", new { });
        var passed = await herald.Admin.SendMessageAsync(app, "will.pass", new { });
        await herald.Receiver.WaitForAsync(passed, DeliveryTimeout, ok.AbsolutePath);
        Assert.True(await Eventually.HoldsAsync(async () =>
            (await herald.Admin.GetAsync($"/api/v1/apps/{app}/messages?status=failed")).Body.GetProperty("data").GetArrayLength() == 1, DeliveryTimeout),
            $"The delivery to {endpoint} did not run out of attempts.");

        string[] Ids(JsonElement page) => [.. page.GetProperty("data").EnumerateArray().Select(m => m.GetProperty("id").GetString()!)];
        Assert.Equal([failed], Ids((await herald.Admin.GetAsync($"/api/v1/apps/{app}/messages?status=failed")).Body));
        Assert.Equal([passed], Ids((await herald.Admin.GetAsync($"/api/v1/apps/{app}/messages?status=succeeded")).Body));
        Assert.Empty(Ids((await herald.Admin.GetAsync($"/api/v1/apps/{app}/messages?status=paused")).Body));
        Assert.Equal(HttpStatusCode.BadRequest, (await herald.Admin.GetAsync($"/api/v1/apps/{app}/messages?status=lost")).Status);

        var messages = new Herald.Grpc.V1.Messages.MessagesClient(herald.Grpc);
        var page = await messages.ListAsync(new() { AppId = app, Status = "failed" }, HeraldAppFixture.Bearer(herald.AdminKey));
        Assert.Equal(failed, Assert.Single(page.Data).Id);
    }
}
