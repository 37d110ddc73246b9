using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Herald.ApiService.Messages;

public static partial class MessageEndpoints
{
    public static IServiceCollection AddMessages(this IServiceCollection services) =>
        services.AddSingleton<MessageStore>();

    public static IEndpointRouteBuilder MapMessages(this IEndpointRouteBuilder routes)
    {
        var messages = routes.MapGroup("/api/v1/messages").WithTags("Messages");
        messages.MapPost("/", CreateAsync).WithName("CreateMessage");
        messages.MapGet("/{id}", GetAsync).WithName("GetMessage");
        return routes;
    }

    private static async Task<Results<Accepted<MessageResponse>, ValidationProblem>> CreateAsync(
        CreateMessageRequest request, MessageStore store, CancellationToken cancellationToken)
    {
        var errors = Validate(request);
        if (errors.Count > 0) return TypedResults.ValidationProblem(errors);

        var message = await store.CreateAsync(request.EventType!, request.Payload.GetRawText(), cancellationToken);
        return TypedResults.Accepted($"/api/v1/messages/{message.Id}", message);
    }

    private static async Task<Results<Ok<MessageResponse>, NotFound>> GetAsync(string id, MessageStore store, CancellationToken cancellationToken) =>
        await store.FindAsync(id, cancellationToken) is { } message ? TypedResults.Ok(message) : TypedResults.NotFound();

    private static Dictionary<string, string[]> Validate(CreateMessageRequest request)
    {
        var errors = new Dictionary<string, string[]>();
        if (request.EventType is not { Length: > 0 and <= 256 } || !EventTypeName().IsMatch(request.EventType))
        {
            errors["eventType"] = ["Required: letters, digits, '_', '-' and '.', up to 256 characters, e.g. invoice.paid."];
        }
        if (request.Payload.ValueKind != JsonValueKind.Object)
        {
            errors["payload"] = ["Required: a JSON object."];
        }
        return errors;
    }

    [GeneratedRegex(@"^[a-zA-Z0-9_\-]+(\.[a-zA-Z0-9_\-]+)*$")]
    private static partial Regex EventTypeName();
}

public sealed record CreateMessageRequest(string? EventType, JsonElement Payload);

public sealed record MessageResponse(string Id, string EventType, JsonElement Payload, DateTimeOffset CreatedAt, DateTimeOffset? PublishedAt);
