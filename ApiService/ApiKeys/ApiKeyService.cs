using Herald.ApiService.Applications;
using Herald.ApiService.Auth;
using Herald.ApiService.Http;
using Herald.ApiService.Problems;
using Herald.Database;
using Herald.Messages;
using Npgsql;

namespace Herald.ApiService.ApiKeys;

/// <summary>API keys: per application, or admin keys (no application) that manage applications.</summary>
public sealed class ApiKeyService(NpgsqlDataSource dataSource, ApiKeyDirectory directory, ApplicationQuotas quotas, TimeProvider time)
{
    private const string Columns = "id, name, key_prefix, application_id, created_at, revoked_at";

    /// <summary>Creates a key for <paramref name="applicationId"/>, or an admin key when it is null.</summary>
    public async Task<CreatedApiKeyResponse> CreateAsync(Caller caller, string? applicationId, ApiKeyInput input, CancellationToken cancellationToken)
    {
        Authorize(caller, applicationId, "create admin API keys");
        var name = input.Name?.Trim();
        if (string.IsNullOrEmpty(name) || name.Length > 256) throw ApiError.Invalid("name", "Required, at most 256 characters.");
        new Validation().RequireStorable("name", name).ThrowIfInvalid();

        var key = ApiKeyDirectory.NewToken(applicationId is null ? "hk_admin_" : "hk_app_");
        var now = DatabaseTime.Now(time);
        var created = new CreatedApiKeyResponse(SortableId.New("key", now), name, key[..(key.IndexOf('_', 3) + 5)], applicationId, now, key);
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        if (applicationId is not null) await quotas.RequireRoomAsync(connection, transaction, applicationId, Quota.ApiKeys, cancellationToken);
        await using var insert = new NpgsqlCommand(
            "INSERT INTO api_keys (id, name, key_prefix, application_id, created_at, key_hash) VALUES ($1, $2, $3, $4, $5, $6)", connection, transaction);
        insert.Parameters.Add(new() { Value = created.Id });
        insert.Parameters.Add(new() { Value = name });
        insert.Parameters.Add(new() { Value = created.Prefix });
        insert.Parameters.Add(new() { Value = (object?)applicationId ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Text });
        insert.Parameters.Add(new() { Value = now });
        insert.Parameters.Add(new() { Value = ApiKeyDirectory.Hash(key) });
        await insert.ExecuteNonQueryAsync(cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return created;
    }

    public async Task<Page<ApiKeyResponse>> ListAsync(Caller caller, string? applicationId, PageRequest page, CancellationToken cancellationToken)
    {
        Authorize(caller, applicationId, "list admin API keys");
        await using var query = dataSource.CreateCommand($"""
            SELECT {Columns} FROM api_keys
            WHERE application_id IS NOT DISTINCT FROM $1 AND ($2::text IS NULL OR id > $2)
            ORDER BY id LIMIT $3
            """);
        query.Parameters.Add(new() { Value = (object?)applicationId ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Text });
        return await page.ReadAsync(query, Read, k => k.Id, cancellationToken);
    }

    public async Task RevokeAsync(Caller caller, string? applicationId, string keyId, CancellationToken cancellationToken)
    {
        Authorize(caller, applicationId, "revoke admin API keys");
        await using var revoke = dataSource.CreateCommand("""
            UPDATE api_keys SET revoked_at = coalesce(revoked_at, $3)
            WHERE id = $1 AND application_id IS NOT DISTINCT FROM $2 RETURNING key_hash
            """);
        revoke.Parameters.Add(new() { Value = keyId });
        revoke.Parameters.Add(new() { Value = (object?)applicationId ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Text });
        revoke.Parameters.Add(new() { Value = DatabaseTime.Now(time) });
        if (await revoke.ExecuteScalarAsync(cancellationToken) is not byte[] hash) throw ApiError.NotFound("API key");
        directory.Forget(hash);
    }

    private static ApiKeyResponse Read(NpgsqlDataReader reader) => new(
        reader.GetString(0), reader.GetString(1), reader.GetString(2), reader.IsDBNull(3) ? null : reader.GetString(3),
        reader.GetFieldValue<DateTimeOffset>(4), reader.IsDBNull(5) ? null : reader.GetFieldValue<DateTimeOffset>(5));

    private static void Authorize(Caller caller, string? applicationId, string adminAction)
    {
        if (applicationId is null) caller.RequireAdmin(adminAction);
        else caller.RequireChangeTo(applicationId);
    }
}
