using Herald.ApiService.Problems;
using Npgsql;

namespace Herald.ApiService.Idempotency;

/// <summary>An earlier request with the same key finished: answer with its response.</summary>
public sealed record IdempotentReplay(int StatusCode, string? Location, string Response);

/// <summary>
/// Idempotency keys in PostgreSQL: the first request with a key inserts a claim row; identical repeats wait for it to
/// finish and get its response, however many race; a key keeps its response for <see cref="Lifetime"/>.
/// </summary>
public sealed class IdempotencyStore(NpgsqlDataSource dataSource, TimeProvider time)
{
    public static readonly TimeSpan Lifetime = TimeSpan.FromHours(24);
    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(20);
    private static readonly TimeSpan MaxWait = TimeSpan.FromSeconds(30);

    public const string Header = "idempotency-key";

    /// <summary>
    /// Claims <paramref name="key"/> for this request. Null: this request owns it — run it, then
    /// <see cref="CompleteAsync"/> or <see cref="AbandonAsync"/>. Otherwise the earlier response to replay. A key that
    /// is malformed, was used for a different request, or whose first request is still running is refused with the
    /// same <see cref="ApiError"/> on every surface.
    /// </summary>
    public async Task<IdempotentReplay?> ClaimAsync(string scope, string key, byte[] requestHash, CancellationToken cancellationToken)
    {
        if (key.Length > 256 || key.Any(char.IsControl)) throw ApiError.Invalid(Header, "At most 256 printable characters.");
        var deadline = time.GetUtcNow() + MaxWait;
        while (true)
        {
            var now = time.GetUtcNow();
            await using (var claim = dataSource.CreateCommand("""
                WITH expired AS (DELETE FROM idempotency_keys WHERE scope = $1 AND key = $2 AND created_at < $5)
                INSERT INTO idempotency_keys (scope, key, request_hash, created_at) VALUES ($1, $2, $3, $4)
                ON CONFLICT DO NOTHING RETURNING 1
                """))
            {
                claim.Parameters.Add(new() { Value = scope });
                claim.Parameters.Add(new() { Value = key });
                claim.Parameters.Add(new() { Value = requestHash });
                claim.Parameters.Add(new() { Value = now });
                claim.Parameters.Add(new() { Value = now - Lifetime });
                if (await claim.ExecuteScalarAsync(cancellationToken) is not null) return null;
            }

            await using (var existing = dataSource.CreateCommand(
                "SELECT request_hash, status_code, location, response FROM idempotency_keys WHERE scope = $1 AND key = $2"))
            {
                existing.Parameters.Add(new() { Value = scope });
                existing.Parameters.Add(new() { Value = key });
                await using var reader = await existing.ExecuteReaderAsync(cancellationToken);
                if (await reader.ReadAsync(cancellationToken))
                {
                    if (!reader.GetFieldValue<byte[]>(0).AsSpan().SequenceEqual(requestHash))
                        throw new ApiError(ApiErrorKind.Unprocessable, "This idempotency-key was already used for a different request.");
                    if (!reader.IsDBNull(1))
                        return new IdempotentReplay(reader.GetInt32(1), reader.IsDBNull(2) ? null : reader.GetString(2), reader.GetString(3));
                }
                // Otherwise the owner is still running, or gave up and deleted its claim: look again shortly.
            }
            if (time.GetUtcNow() > deadline)
                throw new ApiError(ApiErrorKind.Conflict, "A request with this idempotency-key is still in progress; retry shortly.");
            await Task.Delay(PollInterval, time, cancellationToken);
        }
    }

    public async Task CompleteAsync(string scope, string key, int statusCode, string? location, string response, CancellationToken cancellationToken)
    {
        await using var complete = dataSource.CreateCommand(
            "UPDATE idempotency_keys SET status_code = $3, location = $4, response = $5 WHERE scope = $1 AND key = $2");
        complete.Parameters.Add(new() { Value = scope });
        complete.Parameters.Add(new() { Value = key });
        complete.Parameters.Add(new() { Value = statusCode });
        complete.Parameters.Add(new() { Value = (object?)location ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Text });
        complete.Parameters.Add(new() { Value = response });
        await complete.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>The request failed without an effect worth replaying; free the key so a retry runs afresh.</summary>
    public async Task AbandonAsync(string scope, string key)
    {
        await using var abandon = dataSource.CreateCommand(
            "DELETE FROM idempotency_keys WHERE scope = $1 AND key = $2 AND status_code IS NULL");
        abandon.Parameters.Add(new() { Value = scope });
        abandon.Parameters.Add(new() { Value = key });
        await abandon.ExecuteNonQueryAsync(CancellationToken.None);
    }
}
