using System.Text.Json;
using Herald.ApiService.Applications;
using Herald.ApiService.Auth;
using Herald.ApiService.EventTypes;
using Herald.ApiService.Http;
using Herald.ApiService.Messages;
using Herald.ApiService.Problems;
using Herald.Database;
using Herald.Deliveries;
using Herald.Messages;
using Herald.Operations;
using Herald.Secrets;
using Herald.ServiceDefaults.Redis;
using Microsoft.Extensions.Options;
using Npgsql;
using NpgsqlTypes;

namespace Herald.ApiService.Endpoints;

/// <summary>Endpoints are where an application's customers receive webhooks.</summary>
public sealed class EndpointService(
    NpgsqlDataSource dataSource,
    ApplicationService applications,
    ApplicationQuotas quotas,
    EventTypeService eventTypes,
    IOptions<EndpointOptions> options,
    RedisNotices notices,
    EndpointBreakers breakers,
    SecretSealer sealer,
    MessagePublisher publisher,
    TimeProvider time)
{
    private const string Columns = """
        e.id, e.url, e.description, e.event_types, e.disabled, e.disabled_reason, e.rate_limit, e.headers::text, e.created_at,
        e.updated_at, e.ordering, e.retry_policy::text, e.channels, e.filter::text,
        head.message_id, head.status, head.attempts, head.next_attempt_at, head.last_error
        """;

    // A FIFO endpoint's head of line, when it holds the others back: retrying after a failure, or paused.
    private static readonly string WithBlockingHead = $"""
        endpoints e LEFT JOIN LATERAL (
            SELECT d.message_id, d.status, d.attempts, d.next_attempt_at, d.last_error FROM deliveries d
            WHERE d.endpoint_id = e.id AND {FifoHead.Blocks("d")}) head ON true
        """;

    public async Task<EndpointResponse> CreateAsync(Caller caller, string applicationId, EndpointInput input, CancellationToken cancellationToken)
    {
        caller.RequireChangeTo(applicationId);
        var application = await applications.FindAsync(applicationId, cancellationToken) ?? throw ApiError.NotFound("application");
        var filterPath = await ValidateAsync(input, application, cancellationToken);

        var now = DatabaseTime.Now(time);
        var endpoint = Define(SortableId.New("ep", now), input, input.Disabled == true ? DisabledByApi : null, now);

        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await quotas.RequireRoomAsync(connection, transaction, applicationId, Quota.Endpoints, cancellationToken);
        await using (var insert = new NpgsqlCommand("""
            INSERT INTO endpoints (id, url, description, event_types, disabled, disabled_reason, rate_limit, headers,
                                   ordering, retry_policy, channels, filter, filter_path, created_at, updated_at, application_id)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb, $9, $10::jsonb, $11, $12::jsonb, $13::jsonpath, $14, $14, $15)
            """, connection, transaction))
        {
            insert.Parameters.Add(new() { Value = endpoint.Id });
            AddEndpointParameters(insert, endpoint, filterPath);
            insert.Parameters.Add(new() { Value = now });
            insert.Parameters.Add(new() { Value = applicationId });
            await insert.ExecuteNonQueryAsync(cancellationToken);
        }
        await InsertSecretAsync(connection, transaction, endpoint.Id, input.Secret ?? EndpointRules.NewSecret(), now, cancellationToken);
        var events = await EmitAsync(connection, transaction, applicationId, cancellationToken,
            OperationalEvent.EndpointCreated(applicationId, endpoint.Id, now));
        await transaction.CommitAsync(cancellationToken);
        Publish(events);
        return endpoint;
    }

    public async Task<Page<EndpointResponse>> ListAsync(Caller caller, string applicationId, PageRequest page, CancellationToken cancellationToken)
    {
        caller.RequireAccessTo(applicationId);
        await using var query = dataSource.CreateCommand($"""
            SELECT {Columns} FROM {WithBlockingHead} WHERE e.application_id = $1 AND ($2::text IS NULL OR e.id > $2) ORDER BY e.id LIMIT $3
            """);
        query.Parameters.Add(new() { Value = applicationId });
        return await page.ReadAsync(query, Read, e => e.Id, cancellationToken);
    }

    public async Task<EndpointResponse> GetAsync(Caller caller, string applicationId, string endpointId, CancellationToken cancellationToken)
    {
        caller.RequireAccessTo(applicationId);
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        return await FindAsync(connection, null, applicationId, endpointId, cancellationToken) ?? throw ApiError.NotFound("endpoint");
    }

    private async Task<EndpointResponse?> FindAsync(NpgsqlConnection connection, NpgsqlTransaction? transaction, string applicationId,
        string endpointId, CancellationToken cancellationToken)
    {
        await using var query = new NpgsqlCommand($"SELECT {Columns} FROM {WithBlockingHead} WHERE e.application_id = $1 AND e.id = $2", connection, transaction);
        query.Parameters.Add(new() { Value = applicationId });
        query.Parameters.Add(new() { Value = endpointId });
        await using var reader = await query.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken) ? Read(reader) : null;
    }

    /// <summary>Replaces the endpoint's definition. Re-enabling (<c>disabled: false</c>) clears the reason it was
    /// disabled, whether the API or the delivery engine disabled it, and resumes its paused deliveries. Leaving FIFO
    /// releases the line: everything queued is due at once. Becoming FIFO queues the messages accepted from then on;
    /// deliveries already pending finish as they would have.</summary>
    public async Task<EndpointResponse> UpdateAsync(Caller caller, string applicationId, string endpointId, EndpointInput input, CancellationToken cancellationToken)
    {
        caller.RequireChangeTo(applicationId);
        var application = await applications.FindAsync(applicationId, cancellationToken) ?? throw ApiError.NotFound("application");
        if (input.Secret is not null) throw ApiError.Invalid("secret", "Rotate the secret with POST …/secret/rotate.");
        var filterPath = await ValidateAsync(input, application, cancellationToken);

        var now = DatabaseTime.Now(time);
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        bool wasDisabled;
        string wasOrdering;
        await using (var current = new NpgsqlCommand(
            "SELECT disabled, ordering FROM endpoints WHERE id = $1 AND application_id = $2 FOR UPDATE", connection, transaction))
        {
            current.Parameters.Add(new() { Value = endpointId });
            current.Parameters.Add(new() { Value = applicationId });
            await using var reader = await current.ExecuteReaderAsync(cancellationToken);
            if (!await reader.ReadAsync(cancellationToken)) throw ApiError.NotFound("endpoint");
            (wasDisabled, wasOrdering) = (reader.GetBoolean(0), reader.GetString(1));
        }

        var endpoint = Define(endpointId, input, DisabledByApi, now);
        await using (var update = new NpgsqlCommand($"""
            UPDATE endpoints SET url = $2, description = $3, event_types = $4, disabled = $5,
                disabled_reason = CASE WHEN NOT $5 THEN NULL WHEN disabled THEN disabled_reason ELSE $6 END,
                rate_limit = $7, headers = $8::jsonb, ordering = $9, retry_policy = $10::jsonb, channels = $11, filter = $12::jsonb,
                filter_path = $13::jsonpath, updated_at = $14
            WHERE id = $1 AND application_id = $15
            """, connection, transaction))
        {
            update.Parameters.Add(new() { Value = endpointId });
            AddEndpointParameters(update, endpoint, filterPath);
            update.Parameters.Add(new() { Value = now });
            update.Parameters.Add(new() { Value = applicationId });
            await update.ExecuteNonQueryAsync(cancellationToken);
        }

        if (wasDisabled && !endpoint.Disabled)
        {
            // While disabled, the engine parks deliveries as paused; re-enabling makes them due now, in the same
            // transaction, so no paused delivery is left behind by an enabled endpoint.
            await using var resume = new NpgsqlCommand($"""
                UPDATE deliveries SET status = '{DeliveryStatus.Pending}', next_attempt_at = $2, updated_at = $2
                WHERE endpoint_id = $1 AND status = '{DeliveryStatus.Paused}'
                """, connection, transaction);
            resume.Parameters.Add(new() { Value = endpointId });
            resume.Parameters.Add(new() { Value = now });
            await resume.ExecuteNonQueryAsync(cancellationToken);
        }
        if (wasOrdering == EndpointOrdering.Fifo && endpoint.Ordering != EndpointOrdering.Fifo)
        {
            await using var release = new NpgsqlCommand($"""
                UPDATE deliveries SET queue_position = NULL, updated_at = $2,
                    status = CASE WHEN status <> '{DeliveryStatus.Queued}' THEN status WHEN $3 THEN '{DeliveryStatus.Paused}' ELSE '{DeliveryStatus.Pending}' END,
                    next_attempt_at = CASE WHEN status <> '{DeliveryStatus.Queued}' THEN next_attempt_at WHEN $3 THEN NULL ELSE $2 END
                WHERE endpoint_id = $1 AND queue_position IS NOT NULL
                """, connection, transaction);
            release.Parameters.Add(new() { Value = endpointId });
            release.Parameters.Add(new() { Value = now });
            release.Parameters.Add(new() { Value = endpoint.Disabled });
            await release.ExecuteNonQueryAsync(cancellationToken);
        }
        var updated = await FindAsync(connection, transaction, applicationId, endpointId, cancellationToken) ?? throw ApiError.NotFound("endpoint");
        var changes = new List<OperationalEvent> { OperationalEvent.EndpointUpdated(applicationId, endpointId, now) };
        if (!wasDisabled && updated.Disabled)
            changes.Add(OperationalEvent.EndpointDisabled(applicationId, endpointId, updated.DisabledReason ?? DisabledByApi, DisableTrigger.Manual, now));
        else if (wasDisabled && !updated.Disabled)
            changes.Add(OperationalEvent.EndpointEnabled(applicationId, endpointId, now));
        var events = await EmitAsync(connection, transaction, applicationId, cancellationToken, [.. changes]);
        await transaction.CommitAsync(cancellationToken);
        Publish(events);
        await notices.PublishAsync(EndpointChanges.Channel, endpointId);
        return updated;
    }

    public async Task DeleteAsync(Caller caller, string applicationId, string endpointId, CancellationToken cancellationToken)
    {
        caller.RequireChangeTo(applicationId);
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await using (var delete = new NpgsqlCommand("DELETE FROM endpoints WHERE application_id = $1 AND id = $2", connection, transaction))
        {
            delete.Parameters.Add(new() { Value = applicationId });
            delete.Parameters.Add(new() { Value = endpointId });
            if (await delete.ExecuteNonQueryAsync(cancellationToken) == 0) throw ApiError.NotFound("endpoint");
        }
        var events = await EmitAsync(connection, transaction, applicationId, cancellationToken,
            OperationalEvent.EndpointDeleted(applicationId, endpointId, DatabaseTime.Now(time)));
        await transaction.CommitAsync(cancellationToken);
        Publish(events);
        await notices.PublishAsync(EndpointChanges.Channel, endpointId);
    }

    /// <summary>Which of the application's endpoints are failing so often that their circuit breaker holds attempts
    /// back, and until when (none known while Redis is unavailable).</summary>
    /// <param name="endpoints">Endpoints this service returned for the application.</param>
    public async Task<IReadOnlyDictionary<string, DateTimeOffset>> OpenBreakersAsync(Caller caller, string applicationId,
        IReadOnlyList<EndpointResponse> endpoints, CancellationToken cancellationToken)
    {
        caller.RequireAccessTo(applicationId);
        cancellationToken.ThrowIfCancellationRequested();
        return await breakers.OpenAsync(endpoints.Select(e => e.Id).ToList());
    }

    public async Task<EndpointSecretResponse> GetSecretAsync(Caller caller, string applicationId, string endpointId, CancellationToken cancellationToken)
    {
        caller.RequireChangeTo(applicationId);
        await using var query = dataSource.CreateCommand("""
            SELECT s.secret FROM endpoint_secrets s JOIN endpoints e ON e.id = s.endpoint_id
            WHERE e.application_id = $1 AND e.id = $2 AND s.expires_at IS NULL
            """);
        query.Parameters.Add(new() { Value = applicationId });
        query.Parameters.Add(new() { Value = endpointId });
        return await query.ExecuteScalarAsync(cancellationToken) is string secret
            ? new EndpointSecretResponse(sealer.Unseal(secret, SealedField.Secret(endpointId)))
            : throw ApiError.NotFound("endpoint");
    }

    /// <summary>Makes a new current secret. The old one keeps signing for <see cref="EndpointOptions.RotatedSecretLifetime"/>
    /// (every webhook then carries one signature per active secret); only the newest few rotated secrets are kept.</summary>
    public async Task RotateSecretAsync(Caller caller, string applicationId, string endpointId, RotateSecretInput input, CancellationToken cancellationToken)
    {
        caller.RequireChangeTo(applicationId);
        if (input.Key is not null && !EndpointRules.IsValidSecret(input.Key))
            throw ApiError.Invalid("key", $"'{EndpointRules.SecretPrefix}' followed by the base64 of 24 to 64 random bytes; omit it to have one generated.");

        var now = DatabaseTime.Now(time);
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await using (var retire = new NpgsqlCommand("""
            UPDATE endpoint_secrets s SET expires_at = $3
            FROM endpoints e
            WHERE e.id = s.endpoint_id AND e.application_id = $1 AND e.id = $2 AND s.expires_at IS NULL
            """, connection, transaction))
        {
            retire.Parameters.Add(new() { Value = applicationId });
            retire.Parameters.Add(new() { Value = endpointId });
            retire.Parameters.Add(new() { Value = now + options.Value.RotatedSecretLifetime });
            if (await retire.ExecuteNonQueryAsync(cancellationToken) == 0) throw ApiError.NotFound("endpoint");
        }
        await using (var prune = new NpgsqlCommand("""
            DELETE FROM endpoint_secrets WHERE endpoint_id = $1 AND expires_at IS NOT NULL
              AND (expires_at <= $2 OR created_at NOT IN (
                  SELECT created_at FROM endpoint_secrets WHERE endpoint_id = $1 AND expires_at IS NOT NULL
                  ORDER BY created_at DESC LIMIT $3))
            """, connection, transaction))
        {
            prune.Parameters.Add(new() { Value = endpointId });
            prune.Parameters.Add(new() { Value = now });
            prune.Parameters.Add(new() { Value = options.Value.MaxRotatedSecrets });
            await prune.ExecuteNonQueryAsync(cancellationToken);
        }
        await InsertSecretAsync(connection, transaction, endpointId, input.Key ?? EndpointRules.NewSecret(), now, cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        await notices.PublishAsync(EndpointChanges.Channel, endpointId);
    }

    private const string DisabledByApi = "Disabled through the API.";

    /// <summary>Stores the operators' events about a change in its transaction (none about the operations application's
    /// own endpoints); see <see cref="OperationalEvents"/>.</summary>
    private static async Task<IReadOnlyList<OperationalEvent>> EmitAsync(NpgsqlConnection connection, NpgsqlTransaction transaction,
        string applicationId, CancellationToken cancellationToken, params OperationalEvent[] events) =>
        OperationalEvents.AreEmittedFor(applicationId)
            ? await OperationalEvents.WriteAsync(connection, transaction, events, cancellationToken)
            : [];

    /// <summary>Once committed, to Kafka at once as create-message does; the outbox relay covers a failed publication.</summary>
    private void Publish(IReadOnlyList<OperationalEvent> events)
    {
        foreach (var e in events)
            publisher.Publish(new NewMessage(e.MessageId, OperationalEvents.ApplicationId, e.Type, e.EventId, e.Payload, e.Timestamp));
    }

    /// <returns>The content filter's compiled path (see <see cref="EndpointRules.Validate"/>).</returns>
    private async Task<string?> ValidateAsync(EndpointInput input, ApplicationResponse application, CancellationToken cancellationToken)
    {
        var validation = new Validation();
        var filterPath = EndpointRules.Validate(input, options.Value, validation);
        validation.ThrowIfInvalid();
        if (application.RequireRegisteredEventTypes && input.EventTypes is { Length: > 0 } types)
        {
            var active = await eventTypes.ActiveAsync(application.Id, types, cancellationToken);
            foreach (var type in types.Where(t => !active.Contains(t)))
                validation.Add("eventTypes", $"'{type}' is not a registered event type of this application.");
            validation.ThrowIfInvalid();
        }
        return filterPath;
    }

    private async Task InsertSecretAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, string endpointId, string secret,
        DateTimeOffset now, CancellationToken cancellationToken)
    {
        await using var insert = new NpgsqlCommand(
            "INSERT INTO endpoint_secrets (endpoint_id, secret, created_at) VALUES ($1, $2, $3)", connection, transaction);
        insert.Parameters.Add(new() { Value = endpointId });
        insert.Parameters.Add(new() { Value = sealer.Seal(secret, SealedField.Secret(endpointId)) });
        insert.Parameters.Add(new() { Value = now });
        await insert.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>The endpoint <paramref name="input"/> defines (validated), as it will be stored.</summary>
    private static EndpointResponse Define(string id, EndpointInput input, string? disabledReason, DateTimeOffset now) =>
        new(id, input.Url!, input.Description ?? "", Distinct(input.EventTypes), input.Disabled ?? false, disabledReason, input.RateLimit,
            input.Headers ?? [], now, now, input.Ordering ?? EndpointOrdering.Parallel,
            input.RetryPolicy is { IsEmpty: false } policy ? policy.Normalized() : null,
            input.Channels?.Distinct(StringComparer.Ordinal).ToArray(),
            input.Filter is { ValueKind: not JsonValueKind.Null } filter ? new RawJson(filter.GetRawText()) : null);

    // Parameters $2..$13 shared by insert and update: url, description, event_types, disabled, reason, rate_limit, headers,
    // ordering, retry_policy, channels, filter, filter_path.
    private void AddEndpointParameters(NpgsqlCommand command, EndpointResponse endpoint, string? filterPath)
    {
        command.Parameters.Add(new() { Value = endpoint.Url });
        command.Parameters.Add(new() { Value = endpoint.Description });
        command.Parameters.Add(new() { Value = (object?)endpoint.EventTypes ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text });
        command.Parameters.Add(new() { Value = endpoint.Disabled });
        command.Parameters.Add(new() { Value = (object?)endpoint.DisabledReason ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text });
        command.Parameters.Add(new() { Value = (object?)endpoint.RateLimit ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Integer });
        command.Parameters.Add(new() { Value = JsonSerializer.Serialize(sealer.SealHeaders(endpoint.Id, endpoint.Headers)) });
        command.Parameters.Add(new() { Value = endpoint.Ordering });
        command.Parameters.Add(new() { Value = (object?)endpoint.RetryPolicy?.ToJson() ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text });
        command.Parameters.Add(new() { Value = (object?)endpoint.Channels ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text });
        command.Parameters.Add(new() { Value = (object?)endpoint.Filter?.Text ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text });
        command.Parameters.Add(new() { Value = (object?)filterPath ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text });
    }

    private static string[]? Distinct(string[]? types) => types?.Distinct(StringComparer.Ordinal).ToArray();

    private EndpointResponse Read(NpgsqlDataReader reader) => new(
        reader.GetString(0),
        reader.GetString(1),
        reader.GetString(2),
        reader.IsDBNull(3) ? null : reader.GetFieldValue<string[]>(3),
        reader.GetBoolean(4),
        reader.IsDBNull(5) ? null : reader.GetString(5),
        reader.IsDBNull(6) ? null : reader.GetInt32(6),
        sealer.UnsealHeaders(reader.GetString(0), JsonSerializer.Deserialize<Dictionary<string, string>>(reader.GetString(7)) ?? []),
        reader.GetFieldValue<DateTimeOffset>(8),
        reader.GetFieldValue<DateTimeOffset>(9),
        reader.GetString(10),
        RetryPolicy.FromJson(reader.IsDBNull(11) ? null : reader.GetString(11)),
        reader.IsDBNull(12) ? null : reader.GetFieldValue<string[]>(12),
        reader.IsDBNull(13) ? null : new RawJson(reader.GetString(13)),
        reader.IsDBNull(14) ? null : new BlockedBy(reader.GetString(14), reader.GetString(15), reader.GetInt32(16),
            reader.IsDBNull(17) ? null : reader.GetFieldValue<DateTimeOffset>(17), reader.IsDBNull(18) ? null : reader.GetString(18)));
}
