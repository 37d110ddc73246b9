using System.Net.ServerSentEvents;
using System.Runtime.CompilerServices;
using System.Text;
using Herald.ApiService.Auth;
using Herald.ApiService.Http;
using Herald.ApiService.Problems;
using Herald.Deliveries;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Herald.ApiService.Deliveries;

public static class DeliveriesApi
{
    /// <summary>An SSE comment this often while no outcome arrives, so proxies do not close an idle stream.</summary>
    public static readonly TimeSpan KeepAliveInterval = TimeSpan.FromSeconds(15);

    public const string EventName = "delivery";

    public static RouteGroupBuilder MapDeliveries(this RouteGroupBuilder api)
    {
        api.MapPost("/apps/{appId}/messages/{messageId}/endpoints/{endpointId}/resend",
            async (string appId, string messageId, string endpointId, HttpContext context, DeliveryService service, CancellationToken ct) =>
            {
                var delivery = await service.ResendAsync(context.Caller(), appId, messageId, endpointId, ct);
                return TypedResults.Accepted($"/api/v1/apps/{appId}/messages/{messageId}/deliveries", delivery);
            }).WithTags("Deliveries").WithName("ResendMessage");

        api.MapPost("/apps/{appId}/endpoints/{endpointId}/recover",
            async (string appId, string endpointId, HttpContext context, DeliveryService service, CancellationToken ct) =>
            {
                var input = await context.Request.ReadJsonAsync<RecoverInput>(ct);
                DateTimeOffset? since = null;
                if (input.Since is not null)
                    since = Rfc3339.TryParse(input.Since, out var parsed) ? parsed : throw ApiError.Invalid("since", Rfc3339.Rule);
                return TypedResults.Accepted((string?)null, await service.RecoverAsync(context.Caller(), appId, endpointId, since, ct));
            }).Accepts<RecoverInput>("application/json").WithTags("Deliveries").WithName("RecoverEndpoint");

        api.MapGet("/apps/{appId}/messages/{messageId}/deliveries",
            async (string appId, string messageId, HttpContext context, DeliveryService service, CancellationToken ct) =>
                TypedResults.Ok(await service.ListAsync(context.Caller(), appId, messageId, PageRequest.From(context.Request), ct)))
            .WithTags("Deliveries").WithPaging().WithName("ListDeliveries");

        api.MapGet("/apps/{appId}/deliveries/stream",
            (string appId, string? endpointId, HttpContext context, DeliveryService service, CancellationToken ct) =>
                StreamAsync(context, context.Caller(), appId, endpointId, service, ct))
            .WithTags("Deliveries").WithName("StreamDeliveries");

        return api;
    }

    /// <summary>The live outcomes of the application's deliveries (of one endpoint's, when given), as server-sent events.</summary>
    public static async Task<ServerSentEventsResult<DeliveryOutcome>> StreamAsync(HttpContext context, Caller caller, string appId, string? endpointId, DeliveryService service,
        CancellationToken cancellationToken)
    {
        // Subscribed before the response starts: a 404 is still a ProblemDetails, and no outcome published after the
        // client sees the headers is missed.
        var subscription = await service.WatchAsync(caller, appId, string.IsNullOrEmpty(endpointId) ? null : endpointId, cancellationToken);
        context.Response.RegisterForDispose(subscription);
        return TypedResults.ServerSentEvents(StreamAsync(context, subscription));
    }

    private static async IAsyncEnumerable<SseItem<DeliveryOutcome>> StreamAsync(
        HttpContext context, DeliverySubscription subscription, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        using (subscription)
        {
            // SseFormatter cannot write comments, and the response would otherwise start only with the first event;
            // between items nothing else writes to the body, so comments go straight to it.
            await WriteCommentAsync(context, "subscribed", cancellationToken);
            await foreach (var outcome in subscription.ReadAllAsync(KeepAliveInterval, cancellationToken))
            {
                if (outcome is null)
                {
                    await WriteCommentAsync(context, "keep-alive", cancellationToken);
                    continue;
                }
                var item = new SseItem<DeliveryOutcome>(outcome, EventName);
                // An id with a line break would break the framing; the engine's ids never have one.
                yield return outcome.AttemptId is { } id && !id.AsSpan().ContainsAny('\r', '\n') ? item with { EventId = id } : item;
            }
        }
    }

    private static async Task WriteCommentAsync(HttpContext context, string text, CancellationToken cancellationToken)
    {
        await context.Response.Body.WriteAsync(Encoding.UTF8.GetBytes($": {text}\n\n"), cancellationToken);
        await context.Response.Body.FlushAsync(cancellationToken);
    }
}
