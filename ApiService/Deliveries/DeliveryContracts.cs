namespace Herald.ApiService.Deliveries;

/// <summary>The state of one message's delivery to one endpoint.</summary>
public sealed record DeliveryResponse(
    string MessageId,
    string EndpointId,
    string Status,  // a DeliveryStatus: pending | succeeded | failed | paused
    int Attempts,
    DateTimeOffset? NextAttemptAt,
    string? LastError,
    DateTimeOffset UpdatedAt);

/// <summary>REST body of a recovery; <see cref="Since"/> is RFC 3339 text, parsed by <see cref="Http.Rfc3339"/>.</summary>
public sealed record RecoverInput(string? Since);

public sealed record RecoverResponse(int Recovered);

/// <param name="EventType">The test event's type; default <c>herald.test</c>.</param>
public sealed record TestEventInput(string? EventType)
{
    public const string DefaultEventType = "herald.test";
}
