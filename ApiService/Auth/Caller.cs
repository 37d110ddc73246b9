using System.Security.Claims;
using Herald.ApiService.Problems;
using Herald.Operations;

namespace Herald.ApiService.Auth;

/// <summary>Who is calling: an application's API key, an admin key (<see cref="ApplicationId"/> null), or a portal
/// session (<see cref="KeyId"/> the portal access that started it), which may be read-only.</summary>
public sealed record Caller(string KeyId, string? ApplicationId, bool ReadOnly = false)
{
    public const string KeyIdClaim = "herald:key";
    public const string ApplicationClaim = "herald:application";
    public const string ReadOnlyClaim = "herald:read-only";

    public bool IsAdmin => ApplicationId is null;

    /// <summary>A customer's portal session rather than one of the tenant's keys.</summary>
    public bool IsPortalSession => KeyId.StartsWith(Portal.PortalAccessService.IdPrefix + "_", StringComparison.Ordinal);

    /// <summary>The namespace for this caller's idempotency keys and rate limits.</summary>
    public string Scope => ApplicationId ?? "admin";

    /// <summary>Set only by <see cref="ForOperationalWebhooks"/>: the caller reaches the reserved operations application.</summary>
    public bool ReachesOperations { get; private init; }

    /// <summary>An application key sees only its own application: anything else is "not found", never "forbidden",
    /// so one tenant cannot learn whether another tenant's resources exist. The operations application is not found
    /// through the applications API either, even by an admin key: its only door is the operational webhooks API, so no
    /// one can post forged operational events or point its endpoints anywhere past that API's rules.</summary>
    public void RequireAccessTo(string applicationId)
    {
        if (string.Equals(applicationId, OperationalEvents.ApplicationId, StringComparison.Ordinal) && !ReachesOperations)
            throw ApiError.NotFound("application");
        if (!IsAdmin && !string.Equals(ApplicationId, applicationId, StringComparison.Ordinal))
            throw ApiError.NotFound("application");
    }

    /// <summary>Access to change the application's resources (or to read a secret): a read-only caller sees but may
    /// not act.</summary>
    public void RequireChangeTo(string applicationId)
    {
        RequireAccessTo(applicationId);
        if (ReadOnly) throw new ApiError(ApiErrorKind.Forbidden, "This access is read-only.");
    }

    /// <summary>The same admin caller, let through to the operations application; 403 for an application key.</summary>
    public Caller ForOperationalWebhooks()
    {
        RequireAdmin("manage operational webhooks");
        return this with { ReachesOperations = true };
    }

    public void RequireAdmin(string action)
    {
        if (!IsAdmin) throw new ApiError(ApiErrorKind.Forbidden, $"Only an admin API key can {action}.");
    }

    public ClaimsPrincipal ToPrincipal(string scheme)
    {
        var claims = new List<Claim> { new(KeyIdClaim, KeyId) };
        if (ApplicationId is not null) claims.Add(new Claim(ApplicationClaim, ApplicationId));
        if (ReadOnly) claims.Add(new Claim(ReadOnlyClaim, "true"));
        return new ClaimsPrincipal(new ClaimsIdentity(claims, scheme));
    }

    public static Caller? From(ClaimsPrincipal principal) =>
        principal.FindFirst(KeyIdClaim)?.Value is { } keyId ? new Caller(keyId, principal.FindFirst(ApplicationClaim)?.Value, principal.HasClaim(ReadOnlyClaim, "true"))
            : null;
}

public static class CallerExtensions
{
    /// <summary>The authenticated caller; endpoints that reach here require authorization, so one is always present.</summary>
    public static Caller Caller(this HttpContext context) =>
        Auth.Caller.From(context.User) ?? throw new ApiError(ApiErrorKind.Unauthenticated, "An API key is required.");
}
