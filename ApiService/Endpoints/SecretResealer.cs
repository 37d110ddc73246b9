using System.Text.Json;
using System.Xml.Linq;
using Herald.Secrets;
using Npgsql;

namespace Herald.ApiService.Endpoints;

/// <summary>
/// Brings every signing secret, header value and portal key-ring entry under the active sealing key, once per start-up: rows stored before
/// sealing existed, and rows sealed under a key that has since been rotated out of first place. Its log line is the
/// signal, in the key rotation procedure, that the old key can go. Several API replicas may run it at once: a row is
/// only replaced if it still holds what was read.
/// </summary>
public sealed class SecretResealer(NpgsqlDataSource dataSource, SecretSealer sealer, ILogger<SecretResealer> logger) : BackgroundService
{
    private const int BatchSize = 200;
    private static readonly TimeSpan RetryAfter = TimeSpan.FromSeconds(30);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                var result = await ResealAsync(stoppingToken);
                if (result.Unreadable > 0)
                    logger.LogError("Sealing: {Unreadable} sealed values cannot be unsealed with the configured keys; they stay as they are, and " +
                        "their endpoints cannot be delivered to until the key that sealed them is configured again", result.Unreadable);
                logger.LogInformation("Sealing: resealed {Secrets} signing secrets, the header values of {Endpoints} endpoints and {Keys} " +
                    "portal key-ring entries; every other one was already sealed under key {KeyId}", result.Secrets, result.Endpoints,
                    result.KeyRing, sealer.ActiveKeyId);
                return;
            }
            catch (Exception exception) when (exception is NpgsqlException or TimeoutException && !stoppingToken.IsCancellationRequested)
            {
                logger.LogWarning("Sealing: could not reseal yet, retrying in {Delay}: {Reason}", RetryAfter, exception.Message);
            }
            try
            {
                await Task.Delay(RetryAfter, stoppingToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    public sealed record Result(int Secrets, int Endpoints, int KeyRing, int Unreadable);

    public async Task<Result> ResealAsync(CancellationToken cancellationToken)
    {
        var (secrets, unreadableSecrets) = await ResealSecretsAsync(cancellationToken);
        var (endpoints, unreadableHeaders) = await ResealHeadersAsync(cancellationToken);
        var (keyRing, unreadableKeys) = await ResealKeyRingAsync(cancellationToken);
        return new Result(secrets, endpoints, keyRing, unreadableSecrets + unreadableHeaders + unreadableKeys);
    }

    /// <summary>The portal's Data Protection keys (<see cref="Portal.DataProtectionKeys"/>): a handful of rows, each an
    /// XML document with its secret part sealed in one element.</summary>
    private async Task<(int Resealed, int Unreadable)> ResealKeyRingAsync(CancellationToken cancellationToken)
    {
        var rows = new List<(string Name, string Xml)>();
        await using (var select = dataSource.CreateCommand("SELECT name, xml FROM data_protection_keys WHERE xml NOT LIKE '%' || $1 || '%'"))
        {
            select.Parameters.Add(new() { Value = sealer.ActivePrefix });
            await using var reader = await select.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken)) rows.Add((reader.GetString(0), reader.GetString(1)));
        }
        var (resealed, unreadable) = (0, 0);
        foreach (var (name, stored) in rows)
        {
            var document = XElement.Parse(stored);
            var readable = true;
            foreach (var part in document.Descendants(Portal.SealingXmlEncryptor.ElementName))
            {
                if (Reseal(part.Value, Portal.DataProtectionKeys.Field(Portal.SealingXmlEncryptor.ElementName)) is { } value) part.Value = value;
                else readable = false;
            }
            if (!readable)
            {
                unreadable++;
                continue;
            }
            await using var update = dataSource.CreateCommand("UPDATE data_protection_keys SET xml = $3 WHERE name = $1 AND xml = $2");
            update.Parameters.Add(new() { Value = name });
            update.Parameters.Add(new() { Value = stored });
            update.Parameters.Add(new() { Value = document.ToString(SaveOptions.DisableFormatting) });
            resealed += await update.ExecuteNonQueryAsync(cancellationToken);
        }
        return (resealed, unreadable);
    }

    private async Task<(int Resealed, int Unreadable)> ResealSecretsAsync(CancellationToken cancellationToken)
    {
        var (resealed, unreadable) = (0, 0);
        (string EndpointId, DateTimeOffset CreatedAt) after = ("", DateTimeOffset.MinValue);
        while (true)
        {
            var rows = new List<(string EndpointId, DateTimeOffset CreatedAt, string Stored)>();
            await using (var select = dataSource.CreateCommand("""
                SELECT endpoint_id, created_at, secret FROM endpoint_secrets
                WHERE NOT starts_with(secret, $1) AND (endpoint_id, created_at) > ($2, $3)
                ORDER BY endpoint_id, created_at LIMIT $4
                """))
            {
                select.Parameters.Add(new() { Value = sealer.ActivePrefix });
                select.Parameters.Add(new() { Value = after.EndpointId });
                select.Parameters.Add(new() { Value = after.CreatedAt });
                select.Parameters.Add(new() { Value = BatchSize });
                await using var reader = await select.ExecuteReaderAsync(cancellationToken);
                while (await reader.ReadAsync(cancellationToken))
                    rows.Add((reader.GetString(0), reader.GetFieldValue<DateTimeOffset>(1), reader.GetString(2)));
            }
            if (rows.Count == 0) return (resealed, unreadable);
            after = (rows[^1].EndpointId, rows[^1].CreatedAt);

            var (ids, times, olds, news) = (new List<string>(), new List<DateTimeOffset>(), new List<string>(), new List<string>());
            foreach (var (endpointId, createdAt, stored) in rows)
            {
                if (Reseal(stored, SealedField.Secret(endpointId)) is not { } resealedValue)
                {
                    unreadable++;
                    continue;
                }
                ids.Add(endpointId);
                times.Add(createdAt);
                olds.Add(stored);
                news.Add(resealedValue);
            }
            await using var update = dataSource.CreateCommand("""
                UPDATE endpoint_secrets s SET secret = r.new
                FROM unnest($1::text[], $2::timestamptz[], $3::text[], $4::text[]) AS r(endpoint_id, created_at, old, new)
                WHERE s.endpoint_id = r.endpoint_id AND s.created_at = r.created_at AND s.secret = r.old
                """);
            update.Parameters.Add(new() { Value = ids.ToArray() });
            update.Parameters.Add(new() { Value = times.ToArray() });
            update.Parameters.Add(new() { Value = olds.ToArray() });
            update.Parameters.Add(new() { Value = news.ToArray() });
            resealed += await update.ExecuteNonQueryAsync(cancellationToken);
        }
    }

    private async Task<(int Resealed, int Unreadable)> ResealHeadersAsync(CancellationToken cancellationToken)
    {
        var (resealed, unreadable) = (0, 0);
        var after = "";
        while (true)
        {
            var rows = new List<(string Id, string Headers)>();
            await using (var select = dataSource.CreateCommand("""
                SELECT id, headers::text FROM endpoints
                WHERE id > $2 AND EXISTS (SELECT 1 FROM jsonb_each_text(headers) h WHERE NOT starts_with(h.value, $1))
                ORDER BY id LIMIT $3
                """))
            {
                select.Parameters.Add(new() { Value = sealer.ActivePrefix });
                select.Parameters.Add(new() { Value = after });
                select.Parameters.Add(new() { Value = BatchSize });
                await using var reader = await select.ExecuteReaderAsync(cancellationToken);
                while (await reader.ReadAsync(cancellationToken)) rows.Add((reader.GetString(0), reader.GetString(1)));
            }
            if (rows.Count == 0) return (resealed, unreadable);
            after = rows[^1].Id;

            var (ids, olds, news) = (new List<string>(), new List<string>(), new List<string>());
            foreach (var (id, stored) in rows)
            {
                var headers = JsonSerializer.Deserialize<Dictionary<string, string>>(stored) ?? [];
                var values = headers.Select(h => (h.Key, Value: Reseal(h.Value, SealedField.Header(id, h.Key)))).ToList();
                if (values.Any(v => v.Value is null))
                {
                    unreadable++;
                    continue;
                }
                ids.Add(id);
                olds.Add(stored);
                news.Add(JsonSerializer.Serialize(values.ToDictionary(v => v.Key, v => v.Value!, StringComparer.Ordinal)));
            }
            await using var update = dataSource.CreateCommand("""
                UPDATE endpoints e SET headers = r.new::jsonb
                FROM unnest($1::text[], $2::text[], $3::text[]) AS r(id, old, new)
                WHERE e.id = r.id AND e.headers = r.old::jsonb
                """);
            update.Parameters.Add(new() { Value = ids.ToArray() });
            update.Parameters.Add(new() { Value = olds.ToArray() });
            update.Parameters.Add(new() { Value = news.ToArray() });
            resealed += await update.ExecuteNonQueryAsync(cancellationToken);
        }
    }

    /// <summary>The value sealed under the active key, or null when it cannot be unsealed (logged).</summary>
    private string? Reseal(string stored, SealedField field)
    {
        if (stored.StartsWith(sealer.ActivePrefix, StringComparison.Ordinal)) return stored;
        try
        {
            return sealer.Seal(sealer.Unseal(stored, field), field);
        }
        catch (SealedValueException exception)
        {
            logger.LogError("Sealing: {Reason}", exception.Message);
            return null;
        }
    }
}
