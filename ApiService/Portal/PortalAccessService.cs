using Herald.ApiService.Applications;
using Herald.ApiService.Auth;
using Herald.ApiService.Caching;
using Herald.ApiService.Http;
using Herald.ApiService.Problems;
using Herald.Database;
using Herald.Messages;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Herald.ApiService.Portal;

/// <summary>A portal access as a session sees it: what it may reach, and until when the link may start sessions.</summary>
public sealed record PortalGrant(string AccessId, string ApplicationId, bool ReadOnly, DateTimeOffset ExpiresAt)
{
    public Caller Caller => new(AccessId, ApplicationId, ReadOnly);
}

/// <summary>
/// Portal links: a tenant's backend (its application key, or an admin key) asks for one, scoped to one application,
/// and hands it to its customer. The token only starts a portal session (<see cref="PortalSessions"/>): the API's
/// authentication does not know its shape, so nothing else accepts it.
/// </summary>
public sealed class PortalAccessService(
    NpgsqlDataSource dataSource,
    ApplicationService applications,
    RefreshingCache cache,
    IOptions<PortalOptions> options,
    TimeProvider time)
{
    public const string IdPrefix = "pa";
    public const string TokenPrefix = "hk_portal_";
    public const int DefaultExpirySeconds = 3600;
    public const int MaxExpirySeconds = 7 * 24 * 3600;
    public const string AccessPath = "/portal/access";

    private const string Columns = "id, application_id, read_only, created_at, expires_at, revoked_at";
    private static readonly TimeSpan RevocationFresh = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan RevocationStale = TimeSpan.FromMinutes(1);

    /// <param name="origin">The origin of the request that asked (used when <see cref="PortalOptions.PublicUrl"/> is unset).</param>
    public async Task<CreatedPortalAccessResponse> CreateAsync(Caller caller, string applicationId, PortalAccessInput input, string? origin,
        CancellationToken cancellationToken)
    {
        caller.RequireChangeTo(applicationId);
        if (caller.IsPortalSession) throw new ApiError(ApiErrorKind.Forbidden, "A portal session cannot create portal links.");
        var expiry = input.Expiry ?? DefaultExpirySeconds;
        if (expiry is < 60 or > MaxExpirySeconds) throw ApiError.Invalid("expiry", $"Seconds, from 60 to {MaxExpirySeconds} (7 days).");
        _ = await applications.FindAsync(applicationId, cancellationToken) ?? throw ApiError.NotFound("application");

        var token = ApiKeyDirectory.NewToken(TokenPrefix);
        var now = DatabaseTime.Now(time);
        var id = SortableId.New(IdPrefix, now);
        var expiresAt = now.AddSeconds(expiry);
        await using var insert = dataSource.CreateCommand("""
            INSERT INTO portal_access (id, application_id, token_hash, read_only, created_by, created_at, expires_at)
            VALUES ($1, $2, $3, $4, $5, $6, $7)
            """);
        insert.Parameters.Add(new() { Value = id });
        insert.Parameters.Add(new() { Value = applicationId });
        insert.Parameters.Add(new() { Value = ApiKeyDirectory.Hash(token) });
        insert.Parameters.Add(new() { Value = input.ReadOnly ?? false });
        insert.Parameters.Add(new() { Value = caller.KeyId });
        insert.Parameters.Add(new() { Value = now });
        insert.Parameters.Add(new() { Value = expiresAt });
        try
        {
            await insert.ExecuteNonQueryAsync(cancellationToken);
        }
        catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.ForeignKeyViolation)
        {
            throw ApiError.NotFound("application");
        }
        var url = $"{(options.Value.PublicUrl ?? origin ?? "").TrimEnd('/')}{AccessPath}#token={token}";
        return new CreatedPortalAccessResponse(id, applicationId, input.ReadOnly ?? false, now, expiresAt, url, token);
    }

    public async Task<Page<PortalAccessResponse>> ListAsync(Caller caller, string applicationId, PageRequest page, CancellationToken cancellationToken)
    {
        caller.RequireChangeTo(applicationId);
        await using var query = dataSource.CreateCommand($"""
            SELECT {Columns} FROM portal_access WHERE application_id = $1 AND ($2::text IS NULL OR id > $2) ORDER BY id LIMIT $3
            """);
        query.Parameters.Add(new() { Value = applicationId });
        return await page.ReadAsync(query, Read, a => a.Id, cancellationToken);
    }

    /// <summary>Revokes the link and ends every session it started (on this replica at once, on others within seconds).</summary>
    public async Task RevokeAsync(Caller caller, string applicationId, string accessId, CancellationToken cancellationToken)
    {
        caller.RequireChangeTo(applicationId);
        await using var revoke = dataSource.CreateCommand(
            "UPDATE portal_access SET revoked_at = coalesce(revoked_at, $3) WHERE application_id = $1 AND id = $2");
        revoke.Parameters.Add(new() { Value = applicationId });
        revoke.Parameters.Add(new() { Value = accessId });
        revoke.Parameters.Add(new() { Value = DatabaseTime.Now(time) });
        if (await revoke.ExecuteNonQueryAsync(cancellationToken) == 0) throw ApiError.NotFound("portal access");
        cache.Remove(RevokedKey(accessId));
    }

    /// <summary>The grant a link's token carries, if it may still start a session: issued, not revoked, not expired.</summary>
    public async Task<PortalGrant?> RedeemAsync(string token, CancellationToken cancellationToken)
    {
        if (!token.StartsWith(TokenPrefix, StringComparison.Ordinal) || token.Length != TokenPrefix.Length + ApiKeyDirectory.TokenRandomLength) return null;
        await using var query = dataSource.CreateCommand(
            "SELECT id, application_id, read_only, expires_at FROM portal_access WHERE token_hash = $1 AND revoked_at IS NULL AND expires_at > $2");
        query.Parameters.Add(new() { Value = ApiKeyDirectory.Hash(token) });
        query.Parameters.Add(new() { Value = DatabaseTime.Now(time) });
        await using var reader = await query.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken)
            ? new PortalGrant(reader.GetString(0), reader.GetString(1), reader.GetBoolean(2), reader.GetFieldValue<DateTimeOffset>(3))
            : null;
    }

    /// <summary>Whether the link behind a session was revoked (or its application deleted), remembered for seconds.</summary>
    public async ValueTask<bool> IsRevokedAsync(string accessId, CancellationToken cancellationToken) =>
        await cache.GetAsync(RevokedKey(accessId), async ct =>
        {
            await using var query = dataSource.CreateCommand("SELECT revoked_at IS NOT NULL FROM portal_access WHERE id = $1");
            query.Parameters.Add(new() { Value = accessId });
            return await query.ExecuteScalarAsync(ct) as bool? ?? true;
        }, RevocationFresh, RevocationStale, cancellationToken);

    private static string RevokedKey(string accessId) => "portal-revoked:" + accessId;

    private static PortalAccessResponse Read(NpgsqlDataReader reader) => new(
        reader.GetString(0), reader.GetString(1), reader.GetBoolean(2), reader.GetFieldValue<DateTimeOffset>(3),
        reader.GetFieldValue<DateTimeOffset>(4), reader.IsDBNull(5) ? null : reader.GetFieldValue<DateTimeOffset>(5));
}
