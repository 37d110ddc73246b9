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

/// <summary>Configuration section <c>Herald:Endpoints</c>.</summary>
public sealed class EndpointOptions
{
    public const string Section = "Herald:Endpoints";

    /// <summary>Allow <c>http://</c> endpoint URLs. For development and tests only: production endpoints are https.</summary>
    public bool AllowHttpUrls { get; set; }

    /// <summary>How long a rotated-out secret keeps signing, so receivers can switch over without dropping webhooks.</summary>
    public TimeSpan RotatedSecretLifetime { get; set; } = TimeSpan.FromHours(24);

    /// <summary>How many rotated-out secrets may sign at once, besides the current one.</summary>
    public int MaxRotatedSecrets { get; set; } = 3;
}
