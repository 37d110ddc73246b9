using Npgsql;

namespace Herald.ApiService.Idempotency;

public abstract record IdempotencyClaim
{
    /// <summary>This request owns the key: run it, then <see cref="IdempotencyStore.CompleteAsync"/> or <see cref="IdempotencyStore.AbandonAsync"/>.</summary>
    public sealed record Owner : IdempotencyClaim;

    /// <summary>An earlier request with this key finished: answer with its response.</summary>
    public sealed record Replay(int StatusCode, string? Location, string Response) : IdempotencyClaim;

    /// <summary>The key was used for a different request.</summary>
    public sealed record Mismatch : IdempotencyClaim;

    /// <summary>The first request with this key is still running after the wait.</summary>
    public sealed record StillRunning : IdempotencyClaim;
}

/// <summary>
/// Idempotency keys in PostgreSQL: the first request with a key inserts a claim row; identical repeats wait for it to
/// finish and get its response, however many race; a key keeps its response for <see cref="Lifetime"/>.
/// </summary>
public sealed class IdempotencyStore(NpgsqlDataSource dataSource, TimeProvider time)
{
    public static readonly TimeSpan Lifetime = TimeSpan.FromHours(24);
    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(20);
    private static readonly TimeSpan MaxWait = TimeSpan.FromSeconds(30);

    public async Task<IdempotencyClaim> ClaimAsync(string scope, string key, byte[] requestHash, CancellationToken cancellationToken)
    {
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
                if (await claim.ExecuteScalarAsync(cancellationToken) is not null) return new IdempotencyClaim.Owner();
            }

            await using (var existing = dataSource.CreateCommand(
                "SELECT request_hash, status_code, location, response FROM idempotency_keys WHERE scope = $1 AND key = $2"))
            {
                existing.Parameters.Add(new() { Value = scope });
                existing.Parameters.Add(new() { Value = key });
                await using var reader = await existing.ExecuteReaderAsync(cancellationToken);
                if (await reader.ReadAsync(cancellationToken))
                {
                    if (!reader.GetFieldValue<byte[]>(0).AsSpan().SequenceEqual(requestHash)) return new IdempotencyClaim.Mismatch();
                    if (!reader.IsDBNull(1))
                        return new IdempotencyClaim.Replay(reader.GetInt32(1), reader.IsDBNull(2) ? null : reader.GetString(2), reader.GetString(3));
                }
                // Otherwise the owner is still running, or gave up and deleted its claim: look again shortly.
            }
            if (time.GetUtcNow() > deadline) return new IdempotencyClaim.StillRunning();
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
