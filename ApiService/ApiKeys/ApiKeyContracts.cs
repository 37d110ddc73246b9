using Herald.ApiService.Idempotency;

namespace Herald.ApiService.ApiKeys;

public sealed record ApiKeyInput(string? Name);

public sealed record ApiKeyResponse(string Id, string Name, string Prefix, string? ApplicationId, DateTimeOffset CreatedAt, DateTimeOffset? RevokedAt);

/// <summary>Returned once, at creation: the only time the key itself is shown.</summary>
public sealed record CreatedApiKeyResponse(string Id, string Name, string Prefix, string? ApplicationId, DateTimeOffset CreatedAt, string Key)
    : ICarriesSecret
{
    bool ICarriesSecret.CarriesSecret => true;
}
