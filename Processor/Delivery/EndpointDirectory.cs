using System.Collections.Concurrent;
using System.Text.Json;
using Herald.Database;
using Herald.Deliveries;
using Herald.Operations;
using Herald.Processor.Telemetry;
using Herald.Secrets;
using Npgsql;
using Herald.ServiceDefaults.Redis;
using StackExchange.Redis;
using StandardWebhooks;

namespace Herald.Processor.Delivery;

/// <summary>An endpoint as delivery needs it: where, with which extra headers, signed with which secrets, whether it
/// still takes deliveries, the deliveries per second it (and its application, across all its endpoints) may get, how
/// its failed attempts are retried (its policy over its application's over the Processor's).</summary>
public sealed record EndpointTarget(
    string Id,
    string ApplicationId,
    Uri Url,
    IReadOnlyList<string> Secrets,
    IReadOnlyDictionary<string, string> Headers,
    RetrySchedule Retries,
    bool Disabled = false,
    int? RateLimit = null,
    int? ApplicationRateLimit = null)
{
    /// <summary>One signer per secret, made once per load rather than per attempt.</summary>
    public IReadOnlyList<StandardWebhook> Signers { get; } = [.. Secrets.Select(secret => new StandardWebhook(secret))];
}

/// <summary>
/// Endpoints by id, cached for a few seconds: delivery looks one up per attempt. The API announces every change on
/// <see cref="EndpointChanges.Channel"/>, which drops the cached copy at once; the expiry covers a missed announcement.
/// </summary>
public sealed class EndpointDirectory
{
    private static readonly TimeSpan CacheFor = TimeSpan.FromSeconds(5);
    private readonly ConcurrentDictionary<string, Cached> _cache = new(StringComparer.Ordinal);
    private readonly NpgsqlDataSource _dataSource;
    private readonly IConnectionMultiplexer _redis;
    private readonly RedisNotices _changes;
    private readonly TimeProvider _time;
    private readonly DeliveryTelemetry _telemetry;
    private readonly SecretSealer _sealer;
    private readonly RetrySchedule _schedule;
    private readonly ILogger<EndpointDirectory> _logger;

    public EndpointDirectory(NpgsqlDataSource dataSource, IConnectionMultiplexer redis, RedisNotices changes, TimeProvider time,
        DeliveryTelemetry telemetry, SecretSealer sealer, RetrySchedule schedule, ILogger<EndpointDirectory> logger)
    {
        _schedule = schedule;
        _sealer = sealer;
        _changes = changes;
        _telemetry = telemetry;
        _dataSource = dataSource;
        _redis = redis;
        _time = time;
        _logger = logger;
        _ = SubscribeAsync();
    }

    // Until Redis answers (it may be down as the Processor starts) the cache expiry alone keeps endpoints fresh; once
    // subscribed, the client renews the subscription itself after any reconnect.
    private async Task SubscribeAsync()
    {
        for (var delay = TimeSpan.FromSeconds(1); ; delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, TimeSpan.FromSeconds(30).Ticks)))
        {
            try
            {
                await _redis.GetSubscriber().SubscribeAsync(RedisChannel.Literal(EndpointChanges.Channel), (_, id) => _cache.TryRemove(id.ToString(), out Cached? _));
                return;
            }
            catch (Exception exception) when (exception is RedisException or TimeoutException)
            {
                _logger.LogWarning("Not subscribed to endpoint changes yet (cached endpoints expire after {CacheFor}): {Reason}", CacheFor, exception.Message);
            }
            await Task.Delay(delay, _time);
        }
    }

    /// <summary>The endpoint, or null when it no longer exists.</summary>
    public async Task<EndpointTarget?> FindAsync(string endpointId, CancellationToken cancellationToken)
    {
        var now = _time.GetTimestamp();
        if (_cache.TryGetValue(endpointId, out var cached) && !cached.Endpoint.IsFaulted && _time.GetElapsedTime(cached.LoadedAt) < CacheFor)
            return await cached.Endpoint.WaitAsync(cancellationToken);
        // Concurrent lookups of one endpoint share a single query, which no one caller can cancel.
        var entry = new Cached(now, LoadAsync(endpointId));
        _cache[endpointId] = entry;
        try
        {
            return await entry.Endpoint.WaitAsync(cancellationToken);
        }
        catch when (entry.Endpoint.IsFaulted)
        {
            _cache.TryRemove(new KeyValuePair<string, Cached>(endpointId, entry));
            throw;
        }
    }

    /// <summary>The endpoint as PostgreSQL has it now, bypassing the cache (before acting on a stale "disabled").</summary>
    public async Task<EndpointTarget?> ReloadAsync(string endpointId, CancellationToken cancellationToken)
    {
        _cache.TryRemove(endpointId, out _);
        return await FindAsync(endpointId, cancellationToken);
    }

    /// <summary>Disables the endpoint with a reason the user sees, and tells every Processor and API. The operators'
    /// <c>endpoint.disabled</c> event commits with the change (see <see cref="OperationalEvents"/>).</summary>
    public async Task DisableAsync(string endpointId, string reason, CancellationToken cancellationToken)
    {
        var now = DatabaseTime.Now(_time);
        await using (var connection = await _dataSource.OpenConnectionAsync(cancellationToken))
        await using (var transaction = await connection.BeginTransactionAsync(cancellationToken))
        {
            string applicationId;
            await using (var update = new NpgsqlCommand(
                "UPDATE endpoints SET disabled = true, disabled_reason = $2, updated_at = $3 WHERE id = $1 AND NOT disabled RETURNING application_id",
                connection, transaction))
            {
                update.Parameters.Add(new() { Value = endpointId });
                update.Parameters.Add(new() { Value = reason });
                update.Parameters.Add(new() { Value = now });
                if (await update.ExecuteScalarAsync(cancellationToken) is not string disabledIn) return;
                applicationId = disabledIn;
            }
            if (OperationalEvents.AreEmittedFor(applicationId))
            {
                await OperationalEvents.WriteAsync(connection, transaction,
                    [OperationalEvent.EndpointDisabled(applicationId, endpointId, reason, DisableTrigger.Automatic, now)], cancellationToken);
            }
            await transaction.CommitAsync(cancellationToken);
        }
        _telemetry.AutoDisabled();
        _logger.LogWarning("Disabled endpoint {EndpointId}: {Reason}", endpointId, reason);
        _cache.TryRemove(endpointId, out _);
        await _changes.PublishAsync(EndpointChanges.Channel, endpointId);
    }

    private async Task<EndpointTarget?> LoadAsync(string endpointId)
    {
        await using var query = _dataSource.CreateCommand("""
            SELECT e.id, e.application_id, e.url, e.headers::text, e.disabled, e.rate_limit,
                   array(SELECT s.secret FROM endpoint_secrets s
                         WHERE s.endpoint_id = e.id AND (s.expires_at IS NULL OR s.expires_at > $2)
                         ORDER BY s.created_at DESC),
                   a.rate_limit, e.retry_policy::text, a.retry_policy::text
            FROM endpoints e JOIN applications a ON a.id = e.application_id WHERE e.id = $1
            """);
        query.Parameters.Add(new() { Value = endpointId });
        query.Parameters.Add(new() { Value = _time.GetUtcNow() });
        await using var reader = await query.ExecuteReaderAsync();
        if (!await reader.ReadAsync()) return null;
        var id = reader.GetString(0);
        return new EndpointTarget(
            id,
            reader.GetString(1),
            new Uri(reader.GetString(2)),
            [.. reader.GetFieldValue<string[]>(6).Select(secret => _sealer.Unseal(secret, SealedField.Secret(id)))],
            _sealer.UnsealHeaders(id, JsonSerializer.Deserialize<Dictionary<string, string>>(reader.GetString(3)) ?? []),
            _schedule.With(RetryPolicy.Merge(
                RetryPolicy.FromJson(reader.IsDBNull(8) ? null : reader.GetString(8)),
                RetryPolicy.FromJson(reader.IsDBNull(9) ? null : reader.GetString(9)))),
            reader.GetBoolean(4),
            reader.IsDBNull(5) ? null : reader.GetInt32(5),
            reader.IsDBNull(7) ? null : reader.GetInt32(7));
    }

    private sealed record Cached(long LoadedAt, Task<EndpointTarget?> Endpoint);
}
