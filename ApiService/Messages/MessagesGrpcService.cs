using System.Text;
using System.Text.Json;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Herald.ApiService.Attempts;
using Herald.ApiService.Grpc;
using Herald.ApiService.Idempotency;
using Herald.ApiService.Http;
using Herald.ApiService.Problems;
using Herald.ApiService.Telemetry;
using Herald.Grpc.V1;

namespace Herald.ApiService.Messages;

internal sealed class MessagesGrpcService(MessageService messages, AttemptService attempts, ApiMetrics metrics) : Herald.Grpc.V1.Messages.MessagesBase
{
    public override async Task<Message> Create(CreateMessageRequest request, ServerCallContext context)
    {
        try
        {
            return await ParseAndCreateAsync(request, context);
        }
        catch (Exception exception)
        {
            metrics.Rejected(exception);
            throw;
        }
    }

    private async Task<Message> ParseAndCreateAsync(CreateMessageRequest request, ServerCallContext context)
    {
        // As UTF-8, the form a REST body arrives in: parsed without another copy, and its strings checked alike.
        var json = Encoding.UTF8.GetBytes(request.PayloadJson.Length == 0 ? "null" : request.PayloadJson);
        JsonDocument payload;
        try
        {
            payload = JsonDocument.Parse(json);
        }
        catch (JsonException exception)
        {
            throw ApiError.Invalid("payload_json", $"Not valid JSON: {exception.Message}");
        }
        using (payload)
        {
            if (StorableText.FindUnstorable(json, allowNul: true) is not null) throw ApiError.Invalid("payload_json", StorableText.JsonRule);
            var (message, _) = await messages.CreateAsync(context.Caller(), request.AppId,
                new CreateMessageInput(request.EventType.OrNull(), request.EventId.OrNull(), payload.RootElement,
                    request.Channels.Count == 0 ? null : [.. request.Channels], request.Tags.Count == 0 ? null : [.. request.Tags],
                    request.HasRetention ? request.Retention : null), IdempotencyKeys.Of(context), context.CancellationToken);
            return ToProto(message);
        }
    }

    public override async Task<MessagePage> List(ListMessagesRequest request, ServerCallContext context)
    {
        var filter = new MessageFilter(request.EventTypes.Count == 0 ? null : [.. request.EventTypes],
            request.Before.ToDateTimeOffset("before"), request.After.ToDateTimeOffset("after"), MessageFilter.ValidStatus(request.Status),
            MessageFilter.ValidLabel("channel", request.Channel), MessageFilter.ValidLabel("tag", request.Tag));
        var page = await messages.ListAsync(context.Caller(), request.AppId, filter, request.Page.ToPageRequest(), context.CancellationToken);
        return new MessagePage { Data = { page.Data.Select(ToProto) }, Iterator = page.Iterator ?? "", Done = page.Done };
    }

    public override async Task<Message> Get(MessageRef request, ServerCallContext context) =>
        ToProto(await messages.GetAsync(context.Caller(), request.AppId, request.MessageId, context.CancellationToken));

    public override async Task<Message> ExpungeContent(MessageRef request, ServerCallContext context) =>
        ToProto(await messages.ExpungeAsync(context.Caller(), request.AppId, request.MessageId, context.CancellationToken));

    public override async Task<AttemptPage> ListAttempts(MessageRef request, ServerCallContext context) =>
        ToProto(await attempts.ByMessageAsync(context.Caller(), request.AppId, request.MessageId, AttemptFilter.None, request.Page.ToPageRequest(), context.CancellationToken));

    public override async Task<AttemptPage> ListEndpointAttempts(EndpointRef request, ServerCallContext context) =>
        ToProto(await attempts.ByEndpointAsync(context.Caller(), request.AppId, request.EndpointId, AttemptFilter.None, request.Page.ToPageRequest(), context.CancellationToken));

    public override async Task<AttemptPage> SearchAttempts(SearchAttemptsRequest request, ServerCallContext context)
    {
        var filter = AttemptFilter.Create(request.Status, request.StatusClass, request.EndpointId, request.MessageId,
            request.After.ToDateTimeOffset("after"), request.Before.ToDateTimeOffset("before"));
        return ToProto(await attempts.SearchAsync(context.Caller(), request.AppId, filter, request.Page.ToPageRequest(), context.CancellationToken));
    }

    internal static Message ToProto(MessageResponse message) => new()
    {
        Id = message.Id,
        EventType = message.EventType,
        EventId = message.EventId ?? "",
        PayloadJson = message.Payload?.Text ?? "",
        CreatedAt = message.CreatedAt.ToTimestamp(),
        Channels = { message.Channels ?? [] },
        Tags = { message.Tags ?? [] },
        ExpungedAt = message.ExpungedAt?.ToTimestamp(),
    };

    internal static AttemptPage ToProto(Page<AttemptResponse> page)
    {
        var proto = new AttemptPage { Iterator = page.Iterator ?? "", Done = page.Done };
        foreach (var attempt in page.Data)
        {
            var item = new Attempt
            {
                Id = attempt.Id,
                MessageId = attempt.MessageId,
                EndpointId = attempt.EndpointId,
                Status = attempt.Status,
                LatencyMs = attempt.LatencyMs,
                ResponseBody = attempt.ResponseBody ?? "",
                Error = attempt.Error ?? "",
                AttemptedAt = attempt.AttemptedAt.ToTimestamp(),
                NextAttemptAt = attempt.NextAttemptAt.ToTimestamp(),
            };
            if (attempt.HttpStatus is { } status) item.HttpStatus = status;
            proto.Data.Add(item);
        }
        return proto;
    }
}
