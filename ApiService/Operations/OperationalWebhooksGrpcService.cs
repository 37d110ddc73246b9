using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Herald.ApiService.Endpoints;
using Herald.ApiService.Grpc;
using Herald.ApiService.Messages;
using Herald.Grpc.V1;

namespace Herald.ApiService.Operations;

internal sealed class OperationalWebhooksGrpcService(OperationalWebhookService operations) : OperationalWebhooks.OperationalWebhooksBase
{
    public override async Task<Herald.Grpc.V1.Endpoint> CreateEndpoint(CreateOperationalEndpointRequest request, ServerCallContext context) =>
        EndpointsGrpcService.ToProto(await operations.CreateEndpointAsync(context.Caller(),
            EndpointsGrpcService.ToInput(request.Endpoint, withSecret: true), context.CancellationToken));

    public override async Task<EndpointPage> ListEndpoints(ListOperationalEndpointsRequest request, ServerCallContext context)
    {
        var page = await operations.ListEndpointsAsync(context.Caller(), request.Page.ToPageRequest(), context.CancellationToken);
        return new EndpointPage { Data = { page.Data.Select(EndpointsGrpcService.ToProto) }, Iterator = page.Iterator ?? "", Done = page.Done };
    }

    public override async Task<Herald.Grpc.V1.Endpoint> GetEndpoint(OperationalEndpointRef request, ServerCallContext context) =>
        EndpointsGrpcService.ToProto(await operations.GetEndpointAsync(context.Caller(), request.EndpointId, context.CancellationToken));

    public override async Task<Herald.Grpc.V1.Endpoint> UpdateEndpoint(UpdateOperationalEndpointRequest request, ServerCallContext context) =>
        EndpointsGrpcService.ToProto(await operations.UpdateEndpointAsync(context.Caller(), request.EndpointId,
            EndpointsGrpcService.ToInput(request.Endpoint, withSecret: false), context.CancellationToken));

    public override async Task<Empty> DeleteEndpoint(OperationalEndpointRef request, ServerCallContext context)
    {
        await operations.DeleteEndpointAsync(context.Caller(), request.EndpointId, context.CancellationToken);
        return new Empty();
    }

    public override async Task<EndpointSecret> GetEndpointSecret(OperationalEndpointRef request, ServerCallContext context) =>
        new() { Key = (await operations.GetSecretAsync(context.Caller(), request.EndpointId, context.CancellationToken)).Key };

    public override async Task<Empty> RotateEndpointSecret(RotateOperationalSecretRequest request, ServerCallContext context)
    {
        await operations.RotateSecretAsync(context.Caller(), request.EndpointId, new RotateSecretInput(request.Key.OrNull()), context.CancellationToken);
        return new Empty();
    }

    public override async Task<AttemptPage> ListEndpointAttempts(OperationalEndpointRef request, ServerCallContext context) =>
        MessagesGrpcService.ToProto(await operations.ListEndpointAttemptsAsync(context.Caller(), request.EndpointId, request.Page.ToPageRequest(), context.CancellationToken));

    public override async Task<MessagePage> ListMessages(ListOperationalMessagesRequest request, ServerCallContext context)
    {
        var filter = new MessageFilter(request.EventTypes.Count == 0 ? null : [.. request.EventTypes],
            request.Before.ToDateTimeOffset("before"), request.After.ToDateTimeOffset("after"));
        var page = await operations.ListMessagesAsync(context.Caller(), filter, request.Page.ToPageRequest(), context.CancellationToken);
        return new MessagePage { Data = { page.Data.Select(MessagesGrpcService.ToProto) }, Iterator = page.Iterator ?? "", Done = page.Done };
    }

    public override async Task<Message> GetMessage(OperationalMessageRef request, ServerCallContext context) =>
        MessagesGrpcService.ToProto(await operations.GetMessageAsync(context.Caller(), request.MessageId, context.CancellationToken));

    public override async Task<AttemptPage> ListAttempts(OperationalMessageRef request, ServerCallContext context) =>
        MessagesGrpcService.ToProto(await operations.ListAttemptsAsync(context.Caller(), request.MessageId, request.Page.ToPageRequest(), context.CancellationToken));
}
