using Herald.ApiService.Problems;
using Npgsql;

namespace Herald.ApiService.Idempotency;

/// <summary>An earlier request with the same key finished: answer with its response.</summary>
public sealed record IdempotentReplay(int StatusCode, string? Location, string Response);

/// <summary>
/// Idempotency keys in PostgreSQL: the first request with a key inserts a claim row, owned by this process under a
/// lease; identical repeats wait for it to finish and get its response, however many race; a key keeps its response
/// for <see cref="Lifetime"/>. A claim whose owner died mid-request (its lease ran out) is taken over by the next
/// request with the key, which runs afresh — safe for messages, which record the key they were created with.
/// </summary>
public sealed class IdempotencyStore(NpgsqlDataSource dataSource, TimeProvider time)
{
    public static readonly TimeSpan Lifetime = TimeSpan.FromHours(24);

    /// <summary>How long a claim holds without its owner finishing: longer than any request runs (its database
    /// commands time out well before), so only a dead owner's claim ever runs out.</summary>
    public static readonly TimeSpan Lease = TimeSpan.FromSeconds(10);

    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(20);

    public const string Header = "idempotency-key";

    // Which process holds a claim: only for operators reading the table; the lease decides.
    private static readonly string Owner = $"{Environment.MachineName}:{Environment.ProcessId}";

    /// <summary>The caller's scope and the key, as one value: what a message records as the key it was created with.</summary>
    public static string Scoped(string scope, string key) => scope + "\n" + key;

    /// <summary>
    /// Claims <paramref name="key"/> for this request. Null: this request owns it — run it, then
    /// <see cref="CompleteAsync"/> or <see cref="AbandonAsync"/>. Otherwise the earlier response to replay. A key that
    /// is malformed, was used for a different request, or whose first request is still running is refused with the
    /// same <see cref="ApiError"/> on every surface (naming, when the earlier request created something, where it is).
    /// </summary>
    public async Task<IdempotentReplay?> ClaimAsync(string scope, string key, byte[] requestHash, CancellationToken cancellationToken)
    {
        if (key.Length > 256 || key.Any(char.IsControl) || !StorableText.IsStorable(key)) throw ApiError.Invalid(Header, "At most 256 printable characters.");
        var deadline = time.GetUtcNow() + Lease + Lease;
        while (true)
        {
            var now = time.GetUtcNow();
            // Insert a claim, or take over one whose owner's lease ran out (an expired key is replaced outright).
            await using (var claim = dataSource.CreateCommand("""
                INSERT INTO idempotency_keys AS k (scope, key, request_hash, created_at, owner, locked_until)
                VALUES ($1, $2, $3, $4, $6, $7)
                ON CONFLICT (scope, key) DO UPDATE
                    SET request_hash = EXCLUDED.request_hash, created_at = EXCLUDED.created_at, owner = EXCLUDED.owner,
                        locked_until = EXCLUDED.locked_until, status_code = NULL, location = NULL, response = NULL
                    WHERE k.created_at < $5
                       OR (k.status_code IS NULL AND k.request_hash = EXCLUDED.request_hash AND (k.locked_until IS NULL OR k.locked_until < $4))
                RETURNING 1
                """))
            {
                claim.Parameters.Add(new() { Value = scope });
                claim.Parameters.Add(new() { Value = key });
                claim.Parameters.Add(new() { Value = requestHash });
                claim.Parameters.Add(new() { Value = now });
                claim.Parameters.Add(new() { Value = now - Lifetime });
                claim.Parameters.Add(new() { Value = Owner });
                claim.Parameters.Add(new() { Value = now + Lease });
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
                    var location = reader.IsDBNull(2) ? null : reader.GetString(2);
                    // What the first request made, if it finished: a client whose request changed since (the operator,
                    // after a Secret changed) can take that over instead of being stuck with the key for its lifetime.
                    if (!reader.GetFieldValue<byte[]>(0).AsSpan().SequenceEqual(requestHash))
                        throw new ApiError(ApiErrorKind.Unprocessable, "This idempotency-key was already used for a different request.") { Location = location };
                    if (!reader.IsDBNull(1))
                    {
                        return reader.IsDBNull(3) ? throw SecretNotKept(location) : new IdempotentReplay(reader.GetInt32(1), location, reader.GetString(3));
                    }
                }
                // Otherwise the owner is still running, or gave up and deleted its claim: look again shortly.
            }
            if (time.GetUtcNow() > deadline)
                throw new ApiError(ApiErrorKind.Conflict, "A request with this idempotency-key is still in progress; retry shortly.");
            await Task.Delay(PollInterval, time, cancellationToken);
        }
    }

    /// <param name="response">The response to replay; null when it carried a secret, which is never stored: repeats
    /// of the request are then refused (<see cref="SecretNotKept"/>).</param>
    public async Task CompleteAsync(string scope, string key, int statusCode, string? location, string? response, CancellationToken cancellationToken)
    {
        await using var complete = dataSource.CreateCommand(
            "UPDATE idempotency_keys SET status_code = $3, location = $4, response = $5, locked_until = NULL WHERE scope = $1 AND key = $2");
        complete.Parameters.Add(new() { Value = scope });
        complete.Parameters.Add(new() { Value = key });
        complete.Parameters.Add(new() { Value = statusCode });
        complete.Parameters.Add(new() { Value = (object?)location ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Text });
        complete.Parameters.Add(new() { Value = (object?)response ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Text });
        await complete.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>The first request with the key succeeded, but what it answered held a secret shown only once.</summary>
    private static ApiError SecretNotKept(string? location) => new(ApiErrorKind.Conflict,
        "A request with this idempotency-key already succeeded. Its response held a secret, which is shown only once and " +
        "never stored, so it cannot be replayed: " + (location is null ? "find what it created by listing, " : $"what it created is at {location}; ") +
        "revoke or rotate that secret if the response was lost.") { Location = location };

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
