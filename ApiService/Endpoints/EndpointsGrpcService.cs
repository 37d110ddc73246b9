using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Herald.ApiService.Grpc;
using Herald.ApiService.Stats;
using Herald.Grpc.V1;
using EndpointInput = Herald.ApiService.Endpoints.EndpointInput;
using Endpoint = Herald.Grpc.V1.Endpoint;

namespace Herald.ApiService.Endpoints;

internal sealed class EndpointsGrpcService(EndpointService endpoints, Deliveries.DeliveryService deliveries, EndpointStatsService stats) : Herald.Grpc.V1.Endpoints.EndpointsBase
{
    public override async Task<Endpoint> Create(CreateEndpointRequest request, ServerCallContext context) =>
        ToProto(await endpoints.CreateAsync(context.Caller(), request.AppId, ToInput(request.Endpoint, withSecret: true), context.CancellationToken));

    public override async Task<EndpointPage> List(ListEndpointsRequest request, ServerCallContext context)
    {
        var page = await endpoints.ListAsync(context.Caller(), request.AppId, request.Page.ToPageRequest(), context.CancellationToken);
        return new EndpointPage { Data = { page.Data.Select(ToProto) }, Iterator = page.Iterator ?? "", Done = page.Done };
    }

    public override async Task<Herald.Grpc.V1.EndpointStats> GetStats(EndpointStatsRequest request, ServerCallContext context)
    {
        var result = await stats.GetAsync(context.Caller(), request.AppId, request.EndpointId,
            request.Since.ToDateTimeOffset("since"), request.Until.ToDateTimeOffset("until"), context.CancellationToken);
        var proto = new Herald.Grpc.V1.EndpointStats
        {
            EndpointId = result.EndpointId,
            Since = result.Since.ToTimestamp(),
            Until = result.Until.ToTimestamp(),
            Attempts = result.Attempts,
            Succeeded = result.Succeeded,
            Failed = result.Failed,
            StatusClasses = { result.StatusClasses.ToDictionary() },
            TopErrors = { result.TopErrors.Select(e => new Herald.Grpc.V1.ErrorCount { Error = e.Error, Count = e.Count }) },
        };
        if (result.SuccessRate is { } rate) proto.SuccessRate = rate;
        if (result.LatencyMs is { } latency) (proto.LatencyP50Ms, proto.LatencyP95Ms, proto.LatencyP99Ms) = (latency.P50, latency.P95, latency.P99);
        return proto;
    }

    public override async Task<Endpoint> Get(EndpointRef request, ServerCallContext context) =>
        ToProto(await endpoints.GetAsync(context.Caller(), request.AppId, request.EndpointId, context.CancellationToken));

    public override async Task<Endpoint> Update(UpdateEndpointRequest request, ServerCallContext context) =>
        ToProto(await endpoints.UpdateAsync(context.Caller(), request.AppId, request.EndpointId, ToInput(request.Endpoint, withSecret: false), context.CancellationToken));

    public override async Task<Empty> Delete(EndpointRef request, ServerCallContext context)
    {
        await endpoints.DeleteAsync(context.Caller(), request.AppId, request.EndpointId, context.CancellationToken);
        return new Empty();
    }

    public override async Task<EndpointSecret> GetSecret(EndpointRef request, ServerCallContext context) =>
        new() { Key = (await endpoints.GetSecretAsync(context.Caller(), request.AppId, request.EndpointId, context.CancellationToken)).Key };

    public override async Task<Empty> RotateSecret(RotateSecretRequest request, ServerCallContext context)
    {
        await endpoints.RotateSecretAsync(context.Caller(), request.AppId, request.EndpointId, new RotateSecretInput(request.Key.OrNull()), context.CancellationToken);
        return new Empty();
    }

    public override async Task<Message> SendTestEvent(SendTestEventRequest request, ServerCallContext context) =>
        Messages.MessagesGrpcService.ToProto(await deliveries.SendTestEventAsync(context.Caller(), request.AppId, request.EndpointId,
            new Deliveries.TestEventInput(request.EventType.OrNull()), context.CancellationToken));

    internal static EndpointInput ToInput(Herald.Grpc.V1.EndpointInput? input, bool withSecret) => input is null
        ? new EndpointInput(null, null, null, null, null, null, null)
        : new EndpointInput(
            input.Url.OrNull(),
            input.Description,
            input.EventTypes.Count == 0 ? null : [.. input.EventTypes],
            input.Disabled,
            input.HasRateLimit ? input.RateLimit : null,
            input.Headers.ToDictionary(),
            withSecret ? input.Secret.OrNull() : null,
            input.Ordering.OrNull(),
            input.RetryPolicy.ToDomain(),
            input.Channels.Count == 0 ? null : [.. input.Channels],
            FilterOf(input.FilterJson));

    private static System.Text.Json.JsonElement? FilterOf(string json)
    {
        if (json.Length == 0) return null;
        try
        {
            using var document = System.Text.Json.JsonDocument.Parse(json);
            return document.RootElement.Clone();
        }
        catch (System.Text.Json.JsonException exception)
        {
            throw Problems.ApiError.Invalid("filter_json", $"Not valid JSON: {exception.Message}");
        }
    }

    internal static Endpoint ToProto(EndpointResponse endpoint)
    {
        var proto = new Endpoint
        {
            Id = endpoint.Id,
            Url = endpoint.Url,
            Description = endpoint.Description,
            EventTypes = { endpoint.EventTypes ?? [] },
            Disabled = endpoint.Disabled,
            DisabledReason = endpoint.DisabledReason ?? "",
            Headers = { endpoint.Headers.ToDictionary() },
            CreatedAt = endpoint.CreatedAt.ToTimestamp(),
            UpdatedAt = endpoint.UpdatedAt.ToTimestamp(),
            Ordering = endpoint.Ordering,
            RetryPolicy = endpoint.RetryPolicy.ToProto(),
            Channels = { endpoint.Channels ?? [] },
            FilterJson = endpoint.Filter?.Text ?? "",
        };
        if (endpoint.RateLimit is { } rateLimit) proto.RateLimit = rateLimit;
        if (endpoint.BlockedBy is { } head)
        {
            proto.BlockedBy = new Herald.Grpc.V1.BlockedBy
            {
                MessageId = head.MessageId,
                Status = head.Status,
                Attempts = head.Attempts,
                NextAttemptAt = head.NextAttemptAt.ToTimestamp(),
                LastError = head.LastError ?? "",
            };
        }
        return proto;
    }
}
