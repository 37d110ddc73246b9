using System.Text.Json;
using Herald.ApiService.Idempotency;
using Herald.ApiService.Messages;
using Herald.Deliveries;

namespace Herald.ApiService.Endpoints;

/// <param name="Ordering"><c>parallel</c> (default) or <c>fifo</c>: one message at a time, in accept order.</param>
/// <param name="RetryPolicy">Overrides the application's (field by field); null inherits it whole.</param>
/// <param name="Channels">Only messages on one of these channels; null: every message, whatever its channels.</param>
/// <param name="Filter">A content filter the payload must match (see <see cref="Routing.ContentFilter"/>); null: none.</param>
public sealed record EndpointInput(
    string? Url,
    string? Description,
    string[]? EventTypes,
    bool? Disabled,
    int? RateLimit,
    Dictionary<string, string>? Headers,
    string? Secret,
    string? Ordering = null,
    RetryPolicy? RetryPolicy = null,
    string[]? Channels = null,
    JsonElement? Filter = null);

/// <param name="BlockedBy">A FIFO endpoint's head of line while it is being retried or is paused: the delivery every
/// other waits for.</param>
public sealed record EndpointResponse(
    string Id,
    string Url,
    string Description,
    string[]? EventTypes,
    bool Disabled,
    string? DisabledReason,
    int? RateLimit,
    IReadOnlyDictionary<string, string> Headers,
    DateTimeOffset CreatedAt,
    DateTimeOffset UpdatedAt,
    string Ordering = EndpointOrdering.Parallel,
    RetryPolicy? RetryPolicy = null,
    string[]? Channels = null,
    RawJson? Filter = null,
    BlockedBy? BlockedBy = null) : ICarriesSecret
{
    /// <summary>Header values often hold the receiver's credentials.</summary>
    bool ICarriesSecret.CarriesSecret => Headers.Count > 0;

    /// <summary>The input that defines this endpoint as it is: a form that changes some fields (the portal's) starts
    /// from it, so the fields it does not show are kept rather than reset.</summary>
    public EndpointInput ToInput()
    {
        JsonElement? filter = null;
        if (Filter is { } text)
        {
            using var document = JsonDocument.Parse(text.Text);
            filter = document.RootElement.Clone();
        }
        return new(Url, Description, EventTypes, Disabled, RateLimit, new Dictionary<string, string>(Headers), Secret: null,
            Ordering, RetryPolicy, Channels, filter);
    }
}

/// <summary>The delivery at the head of a FIFO line that holds the rest back.</summary>
/// <param name="Status"><c>pending</c> (failed, a retry is due at <paramref name="NextAttemptAt"/>) or <c>paused</c>
/// (the endpoint is disabled).</param>
public sealed record BlockedBy(string MessageId, string Status, int Attempts, DateTimeOffset? NextAttemptAt, string? LastError);

public sealed record EndpointSecretResponse(string Key);

public sealed record RotateSecretInput(string? Key);

