using Grpc.Core;
using Herald.ApiService.Grpc;
using Herald.ApiService.Http;
using Herald.Grpc.V1;
using Outcome = Herald.Deliveries.DeliveryOutcome;

namespace Herald.ApiService.Deliveries;

internal sealed class DeliveriesGrpcService(DeliveryService deliveries) : Herald.Grpc.V1.Deliveries.DeliveriesBase
{
    public override async Task<Delivery> ResendMessage(ResendMessageRequest request, ServerCallContext context) =>
        ToProto(await deliveries.ResendAsync(context.Caller(), request.AppId, request.MessageId, request.EndpointId, context.CancellationToken));

    public override async Task<RecoverEndpointResponse> RecoverEndpoint(RecoverEndpointRequest request, ServerCallContext context)
    {
        var since = request.Since.ToDateTimeOffset("since");
        var recovered = await deliveries.RecoverAsync(context.Caller(), request.AppId, request.EndpointId, since, context.CancellationToken);
        return new RecoverEndpointResponse { Recovered = recovered.Recovered };
    }

    public override async Task<DeliveryPage> ListDeliveries(MessageRef request, ServerCallContext context)
    {
        var page = await deliveries.ListAsync(context.Caller(), request.AppId, request.MessageId, request.Page.ToPageRequest(), context.CancellationToken);
        return new DeliveryPage { Data = { page.Data.Select(ToProto) }, Iterator = page.Iterator ?? "", Done = page.Done };
    }

    public override async Task WatchDeliveries(WatchDeliveriesRequest request, IServerStreamWriter<DeliveryOutcome> responseStream, ServerCallContext context)
    {
        using var subscription = await deliveries.WatchAsync(context.Caller(), request.AppId, request.EndpointId.OrNull(), context.CancellationToken);
        // Headers now tell the client the subscription is live; otherwise they would wait for the first outcome.
        await context.WriteResponseHeadersAsync(new Metadata());
        // HTTP/2 pings keep an idle connection open, so no keep-alive messages are needed.
        await foreach (var outcome in subscription.ReadAllAsync(Timeout.InfiniteTimeSpan, context.CancellationToken))
        {
            if (outcome is not null) await responseStream.WriteAsync(ToProto(outcome), context.CancellationToken);
        }
    }

    private static Delivery ToProto(DeliveryResponse delivery) => new()
    {
        MessageId = delivery.MessageId,
        EndpointId = delivery.EndpointId,
        Status = delivery.Status,
        Attempts = delivery.Attempts,
        NextAttemptAt = delivery.NextAttemptAt.ToTimestamp(),
        LastError = delivery.LastError ?? "",
        UpdatedAt = Google.Protobuf.WellKnownTypes.Timestamp.FromDateTimeOffset(delivery.UpdatedAt),
    };

    private static DeliveryOutcome ToProto(Outcome outcome)
    {
        var proto = new DeliveryOutcome
        {
            AttemptId = outcome.AttemptId ?? "",
            MessageId = outcome.MessageId ?? "",
            EndpointId = outcome.EndpointId ?? "",
            AppId = outcome.ApplicationId,
            EventType = outcome.EventType ?? "",
            Attempt = outcome.Attempt,
            Status = outcome.Status ?? "",
            DeliveryStatus = outcome.DeliveryStatus ?? "",
            LatencyMs = outcome.LatencyMs,
            Error = outcome.Error ?? "",
            AttemptedAt = Google.Protobuf.WellKnownTypes.Timestamp.FromDateTimeOffset(outcome.AttemptedAt),
            NextAttemptAt = outcome.NextAttemptAt.ToTimestamp(),
        };
        if (outcome.HttpStatus is { } status) proto.HttpStatus = status;
        return proto;
    }
}
