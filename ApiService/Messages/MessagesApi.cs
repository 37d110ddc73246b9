using System.Text.Json;
using Herald.ApiService.Auth;
using Herald.ApiService.Http;
using Herald.ApiService.Idempotency;
using Herald.ApiService.Problems;
using Herald.ApiService.Telemetry;
using Microsoft.Extensions.Options;

namespace Herald.ApiService.Messages;

public static class MessagesApi
{
    public static RouteGroupBuilder MapMessages(this RouteGroupBuilder api)
    {
        var messages = api.MapGroup("/apps/{appId}/messages").WithTags("Messages");

        messages.MapPost("/", CreateAsync).Accepts<CreateMessageInput>("application/json")
            .Produces<MessageResponse>(StatusCodes.Status202Accepted).WithName("CreateMessage");

        messages.MapGet("/", async (string appId, HttpContext context, MessageService service, CancellationToken ct) =>
            TypedResults.Ok(await service.ListAsync(context.Caller(), appId, MessageFilter.From(context.Request), PageRequest.From(context.Request), ct)))
            .WithPaging().WithMessageFilter().WithName("ListMessages");

        messages.MapGet("/{messageId}", async (string appId, string messageId, HttpContext context, MessageService service, CancellationToken ct) =>
            TypedResults.Ok(await service.GetAsync(context.Caller(), appId, messageId, ct)))
            .WithName("GetMessage");

        // Erasure on request: the payload goes at once; the message, its deliveries and attempts stay (marked expunged).
        messages.MapDelete("/{messageId}/content", async (string appId, string messageId, HttpContext context, MessageService service, CancellationToken ct) =>
            TypedResults.Ok(await service.ExpungeAsync(context.Caller(), appId, messageId, ct)))
            .WithName("ExpungeMessageContent");

        return api;
    }

    /// <summary>202 once the message is committed; the same 202 body for a repeated eventId.</summary>
    private static async Task<IResult> CreateAsync(string appId, HttpContext context, MessageService service, IOptions<MessageOptions> options, ApiMetrics metrics, CancellationToken ct)
    {
        try
        {
            return await ParseAndCreateAsync(appId, context, service, options, ct);
        }
        catch (Exception exception)
        {
            metrics.Rejected(exception);
            throw;
        }
    }

    private static async Task<IResult> ParseAndCreateAsync(string appId, HttpContext context, MessageService service, IOptions<MessageOptions> options, CancellationToken ct)
    {
        // Kestrel refuses bodies beyond the cap while reading (see AddHeraldApi); a declared length is refused at once.
        if (context.Request.ContentLength > options.Value.MaxPayloadBytes + MessageOptions.EnvelopeAllowance)
            throw new ApiError(ApiErrorKind.PayloadTooLarge, $"The payload is larger than {options.Value.MaxPayloadBytes} bytes.");

        // A \u0000 escape may stay in the payload: its column is json, which keeps the text as sent.
        using var document = await JsonBody.ParseAsync(context.Request, allowNul: true, ct);
        var root = document.RootElement;
        if (root.ValueKind != JsonValueKind.Object) throw ApiError.Invalid("body", "A JSON object is required.");
        var input = new CreateMessageInput(
            StringProperty(root, "eventType"),
            StringProperty(root, "eventId"),
            root.TryGetProperty("payload", out var payload) ? payload : default,
            StringsProperty(root, "channels"),
            StringsProperty(root, "tags"),
            Retention(root));
        var (message, _) = await service.CreateAsync(context.Caller(), appId, input, IdempotencyKeys.Of(context), ct);
        return TypedResults.Accepted($"/api/v1/apps/{appId}/messages/{message.Id}", message);
    }

    private static long? Retention(JsonElement root) =>
        !root.TryGetProperty("retention", out var value) || value.ValueKind == JsonValueKind.Null ? null
        : value.ValueKind == JsonValueKind.Number && value.TryGetInt64(out var seconds) ? seconds
        : throw ApiError.Invalid("retention", "Seconds to keep the payload: a whole number.");

    private static string? StringProperty(JsonElement root, string name) =>
        !root.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null ? null
        : value.ValueKind == JsonValueKind.String ? value.GetString()
        : throw ApiError.Invalid(name, "Must be a string.");

    private static string[]? StringsProperty(JsonElement root, string name) =>
        !root.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null ? null
        : value.ValueKind == JsonValueKind.Array && value.GetArrayLength() <= 100 && value.EnumerateArray().All(v => v.ValueKind == JsonValueKind.String)
            ? [.. value.EnumerateArray().Select(v => v.GetString()!)]
        : throw ApiError.Invalid(name, "Must be an array of strings.");
}
