using Herald.ApiService.Idempotency;

namespace Herald.ApiService.Endpoints;

public sealed record EndpointInput(
    string? Url,
    string? Description,
    string[]? EventTypes,
    bool? Disabled,
    int? RateLimit,
    Dictionary<string, string>? Headers,
    string? Secret);

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
    DateTimeOffset UpdatedAt) : ICarriesSecret
{
    /// <summary>Header values often hold the receiver's credentials.</summary>
    bool ICarriesSecret.CarriesSecret => Headers.Count > 0;
}

public sealed record EndpointSecretResponse(string Key);

public sealed record RotateSecretInput(string? Key);

