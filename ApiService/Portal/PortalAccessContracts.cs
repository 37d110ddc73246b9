namespace Herald.ApiService.Portal;

/// <param name="Expiry">Seconds the link can be used to start a session: 60 to 604,800 (7 days); default 3,600.</param>
/// <param name="ReadOnly">The session sees everything but changes nothing (and cannot reveal signing secrets).</param>
public sealed record PortalAccessInput(int? Expiry, bool? ReadOnly);

public sealed record PortalAccessResponse(
    string Id,
    string ApplicationId,
    bool ReadOnly,
    DateTimeOffset CreatedAt,
    DateTimeOffset ExpiresAt,
    DateTimeOffset? RevokedAt);

/// <param name="Url">The link to hand the customer: the token travels in its fragment, which browsers send to no
/// server and put in no Referer, so it stays out of access logs.</param>
/// <param name="Token">Shown once; Herald keeps only its SHA-256.</param>
public sealed record CreatedPortalAccessResponse(
    string Id,
    string ApplicationId,
    bool ReadOnly,
    DateTimeOffset CreatedAt,
    DateTimeOffset ExpiresAt,
    string Url,
    string Token);
