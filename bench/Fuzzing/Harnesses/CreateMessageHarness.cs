using System.Reflection;
using System.Text.Json;
using Herald.ApiService.Applications;
using Herald.ApiService.Caching;
using Herald.ApiService.Messages;
using Herald.ApiService.Problems;
using Microsoft.Extensions.Caching.Memory;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace Herald.Fuzzing.Harnesses;

/// <summary>
/// The create-message body, from request bytes to a validated message: the handler's own parse
/// (<c>MessagesApi.ParseAndCreateAsync</c>: <see cref="Http.JsonBody"/>, the storability check, the field reads)
/// and <see cref="MessageService.CreateAsync"/>'s validation, up to its first read of the database (the application
/// lookup, against a database that is never there). A body is refused with a 400 or 413, or accepted; an accepted
/// one has a valid event type and an object payload that PostgreSQL's json column stores as sent.
/// </summary>
public sealed class CreateMessageHarness : IHarness
{
    public string Name => "create-message";

    public string Parses => "create-message JSON body (eventType, eventId, payload)";

    private const string ApplicationId = "app_fuzz";

    private delegate Task<IResult> Handler(string appId, HttpContext context, MessageService service, IOptions<MessageOptions> options, CancellationToken ct);

    // The handler is private to the API; calling it (rather than a copy) keeps the harness on the code that runs. The
    // replay tests fail at once if it is renamed.
    private static readonly Handler ParseAndCreate = typeof(MessagesApi)
        .GetMethod("ParseAndCreateAsync", BindingFlags.NonPublic | BindingFlags.Static)?.CreateDelegate<Handler>()
        ?? throw new MissingMethodException(nameof(MessagesApi), "ParseAndCreateAsync");

    private static readonly IOptions<MessageOptions> Options = Microsoft.Extensions.Options.Options.Create(new MessageOptions());

    private static readonly MessageService Service = new(
        ingest: null!, // never reached: the application lookup comes first, and the database is not there
        new ApplicationCache(new ApplicationService(Unreachable.Database, TimeProvider.System),
            new RefreshingCache(new MemoryCache(new MemoryCacheOptions()), TimeProvider.System, NullLogger<RefreshingCache>.Instance)),
        eventTypes: null!, // only asked for an application that requires registered types, after the lookup
        schemas: null!, // only asked for an application that validates payloads, after the lookup
        Unreachable.Database,
        Options,
        metrics: null!, // counts accepted messages, after the commit
        TimeProvider.System);

    public void Run(ReadOnlySpan<byte> input)
    {
        var context = Requests.Json(input);
        context.User = Requests.Admin;
        try
        {
            ParseAndCreate(ApplicationId, context, Service, Options, CancellationToken.None).GetAwaiter().GetResult();
            throw new InvariantBroken("a message was created without a database");
        }
        catch (ApiError error) when (error.Kind is ApiErrorKind.Validation or ApiErrorKind.PayloadTooLarge)
        {
            return;
        }
        catch (Exception exception) when (Unreachable.IsDatabase(exception))
        {
            Accepted(input);
        }
    }

    private static void Accepted(ReadOnlySpan<byte> input)
    {
        using var document = JsonDocument.Parse(input.ToArray());
        var root = document.RootElement;
        var eventType = root.GetProperty("eventType").GetString();
        InvariantBroken.Unless(ApiService.EventTypes.EventTypeName.IsValid(eventType), $"accepted event type '{eventType}'");
        var payload = root.GetProperty("payload");
        InvariantBroken.Unless(payload.ValueKind == JsonValueKind.Object, "accepted a payload that is not an object");
        var text = payload.GetRawText();
        InvariantBroken.Unless(StorableText.FindUnstorable(System.Text.Encoding.UTF8.GetBytes(text), allowNul: true) is null,
            "accepted a payload PostgreSQL cannot store");
        if (root.TryGetProperty("eventId", out var eventId) && eventId.ValueKind == JsonValueKind.String)
            InvariantBroken.Unless(StorableText.IsStorable(eventId.GetString()), "accepted an event id PostgreSQL cannot store");
    }
}
