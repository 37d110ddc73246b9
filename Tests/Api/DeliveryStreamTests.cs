using System.Net;
using Grpc.Core;
using Herald.Grpc.V1;
using Herald.Tests.Harness;
using StackExchange.Redis;
using DeliveriesClient = Herald.Grpc.V1.Deliveries.DeliveriesClient;
using DeliveryOutcome = Herald.Deliveries.DeliveryOutcome;

namespace Herald.Tests.Api;

/// <summary>Live outcomes: what a Processor publishes on Redis reaches exactly the streams (SSE and gRPC) of its
/// application, and of its endpoint when one is named.</summary>
[Collection(HeraldAppCollection.Name)]
public sealed class DeliveryStreamTests(HeraldAppFixture herald)
{
    private static readonly string[] OtherTypes = ["never.sent"];

    [Fact]
    public async Task Each_stream_gets_exactly_its_applications_and_endpoints_outcomes_in_order()
    {
        var a = await herald.Admin.CreateApplicationAsync("stream A");
        var b = await herald.Admin.CreateApplicationAsync("stream B");
        var keyA = await herald.Admin.CreateApplicationKeyAsync(a);
        using var clientA = herald.Client(keyA);
        var (a1, _) = await herald.Admin.CreateEndpointAsync(a, new Uri("https://example.com/a1"), OtherTypes);
        var (a2, _) = await herald.Admin.CreateEndpointAsync(a, new Uri("https://example.com/a2"), OtherTypes);
        var (b1, _) = await herald.Admin.CreateEndpointAsync(b, new Uri("https://example.com/b1"), OtherTypes);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));

        var (status, opened) = await EventStream.OpenAsync(clientA.Http, $"/api/v1/apps/{a}/deliveries/stream", timeout.Token);
        Assert.Equal(HttpStatusCode.OK, status);
        await using var all = opened!;
        Assert.Equal("text/event-stream", all.Response.Content.Headers.ContentType?.MediaType);
        (status, opened) = await EventStream.OpenAsync(clientA.Http, $"/api/v1/apps/{a}/deliveries/stream?endpointId={a1}", timeout.Token);
        Assert.Equal(HttpStatusCode.OK, status);
        await using var onlyA1 = opened!;
        var watch = new DeliveriesClient(herald.Grpc);
        using var grpcAll = watch.WatchDeliveries(new WatchDeliveriesRequest { AppId = a }, HeraldAppFixture.Bearer(keyA), cancellationToken: timeout.Token);
        using var grpcA1 = watch.WatchDeliveries(new WatchDeliveriesRequest { AppId = a, EndpointId = a1 }, HeraldAppFixture.Bearer(keyA), cancellationToken: timeout.Token);
        await grpcAll.ResponseHeadersAsync;
        await grpcA1.ResponseHeadersAsync;

        var published = new[] { Outcome(a, a1, "succeeded"), Outcome(a, a2, "failed"), Outcome(b, b1, "succeeded"), Outcome(a, a1, "failed") };
        var redis = (await herald.RedisAsync()).GetSubscriber();
        foreach (var outcome in published)
        {
            var receivers = await redis.PublishAsync(RedisChannel.Literal(DeliveryOutcome.Channel), outcome.ToUtf8Bytes());
            Assert.True(receivers >= 1, "No API process is subscribed to delivery outcomes.");
        }

        // B's outcome was published before the last one, so had it leaked it would be in these lists.
        var last = published[^1].AttemptId;
        Assert.Equal([published[0], published[1], published[3]], await all.OutcomesUntilAsync(last));
        Assert.Equal([published[0], published[3]], await onlyA1.OutcomesUntilAsync(last));
        Assert.Equal([published[0].AttemptId, published[1].AttemptId, published[3].AttemptId], await AttemptIdsUntilAsync(grpcAll, last, timeout.Token));
        Assert.Equal([published[0].AttemptId, published[3].AttemptId], await AttemptIdsUntilAsync(grpcA1, last, timeout.Token));
    }

    [Fact]
    public async Task A_grpc_outcome_carries_every_field_of_the_published_record()
    {
        var app = await herald.Admin.CreateApplicationAsync("stream fields");
        var (endpoint, _) = await herald.Admin.CreateEndpointAsync(app, new Uri("https://example.com/fields"), OtherTypes);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        using var call = new DeliveriesClient(herald.Grpc).WatchDeliveries(
            new WatchDeliveriesRequest { AppId = app }, HeraldAppFixture.Bearer(herald.AdminKey), cancellationToken: timeout.Token);
        await call.ResponseHeadersAsync;

        var sent = Outcome(app, endpoint, "failed") with { HttpStatus = 503, Error = "HTTP 503", NextAttemptAt = DateTimeOffset.UtcNow.AddMinutes(5) };
        await (await herald.RedisAsync()).GetSubscriber().PublishAsync(RedisChannel.Literal(DeliveryOutcome.Channel), sent.ToUtf8Bytes());

        Assert.True(await call.ResponseStream.MoveNext(timeout.Token));
        var got = call.ResponseStream.Current;
        Assert.Equal(sent.AttemptId, got.AttemptId);
        Assert.Equal(sent.MessageId, got.MessageId);
        Assert.Equal(endpoint, got.EndpointId);
        Assert.Equal(app, got.AppId);
        Assert.Equal(sent.EventType, got.EventType);
        Assert.Equal(3, got.Attempt);
        Assert.Equal("failed", got.Status);
        Assert.Equal("pending", got.DeliveryStatus);
        Assert.Equal(503, got.HttpStatus);
        Assert.Equal(42, got.LatencyMs);
        Assert.Equal("HTTP 503", got.Error);
        Assert.Equal(sent.AttemptedAt, got.AttemptedAt.ToDateTimeOffset());
        Assert.Equal(sent.NextAttemptAt, got.NextAttemptAt.ToDateTimeOffset());
    }

    [Fact]
    public async Task Streams_of_another_application_or_an_unknown_endpoint_are_not_found()
    {
        var a = await herald.Admin.CreateApplicationAsync("stream owner");
        var b = await herald.Admin.CreateApplicationAsync("stream intruder");
        var (endpointA, _) = await herald.Admin.CreateEndpointAsync(a, new Uri("https://example.com/a"), OtherTypes);
        var keyB = await herald.Admin.CreateApplicationKeyAsync(b);
        using var clientB = herald.Client(keyB);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));

        (RestClient Client, string Path)[] rest =
        [
            (clientB, $"/api/v1/apps/{a}/deliveries/stream"),
            (clientB, $"/api/v1/apps/{a}/deliveries/stream?endpointId={endpointA}"),
            (clientB, $"/api/v1/apps/{b}/deliveries/stream?endpointId={endpointA}"),
            (herald.Admin, "/api/v1/apps/app_unknown/deliveries/stream"),
            (herald.Admin, $"/api/v1/apps/{a}/deliveries/stream?endpointId=ep_unknown"),
        ];
        foreach (var (client, path) in rest)
        {
            var (status, stream) = await EventStream.OpenAsync(client.Http, path, timeout.Token);
            if (stream is not null) await stream.DisposeAsync();
            Assert.True(status == HttpStatusCode.NotFound, $"GET {path}: {(int)status}");
        }
        using var anonymous = herald.Client(null);
        Assert.Equal(HttpStatusCode.Unauthorized, (await EventStream.OpenAsync(anonymous.Http, $"/api/v1/apps/{a}/deliveries/stream", timeout.Token)).Status);

        var watch = new DeliveriesClient(herald.Grpc);
        (Metadata Auth, WatchDeliveriesRequest Request)[] grpc =
        [
            (HeraldAppFixture.Bearer(keyB), new() { AppId = a }),
            (HeraldAppFixture.Bearer(keyB), new() { AppId = a, EndpointId = endpointA }),
            (HeraldAppFixture.Bearer(keyB), new() { AppId = b, EndpointId = endpointA }),
            (HeraldAppFixture.Bearer(herald.AdminKey), new() { AppId = "app_unknown" }),
            (HeraldAppFixture.Bearer(herald.AdminKey), new() { AppId = a, EndpointId = "ep_unknown" }),
        ];
        foreach (var (auth, request) in grpc)
        {
            using var call = watch.WatchDeliveries(request, auth, cancellationToken: timeout.Token);
            var error = await Assert.ThrowsAsync<RpcException>(() => call.ResponseStream.MoveNext(timeout.Token));
            Assert.True(error.StatusCode == StatusCode.NotFound, $"WatchDeliveries {request}: {error.Status}");
        }
    }

    internal static DeliveryOutcome Outcome(string applicationId, string endpointId, string status) => new(
        AttemptId: "att_" + Guid.NewGuid().ToString("N"),
        MessageId: "msg_" + Guid.NewGuid().ToString("N"),
        EndpointId: endpointId,
        ApplicationId: applicationId,
        EventType: "invoice.paid",
        Attempt: 3,
        Status: status,
        DeliveryStatus: status == "succeeded" ? "succeeded" : "pending",
        HttpStatus: status == "succeeded" ? 204 : null,
        LatencyMs: 42,
        Error: null,
        AttemptedAt: DateTimeOffset.UtcNow,
        NextAttemptAt: null);

    private static async Task<List<string>> AttemptIdsUntilAsync(AsyncServerStreamingCall<Herald.Grpc.V1.DeliveryOutcome> call, string last, CancellationToken cancellationToken)
    {
        var ids = new List<string>();
        while (ids.Count == 0 || ids[^1] != last)
        {
            Assert.True(await call.ResponseStream.MoveNext(cancellationToken), "The gRPC stream ended.");
            ids.Add(call.ResponseStream.Current.AttemptId);
        }
        return ids;
    }
}
