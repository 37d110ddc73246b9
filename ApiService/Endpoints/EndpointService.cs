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
    private const string Columns = "id, url, description, event_types, disabled, disabled_reason, rate_limit, headers::text, created_at, updated_at";

    public async Task<EndpointResponse> CreateAsync(Caller caller, string applicationId, EndpointInput input, CancellationToken cancellationToken)
    {
        caller.RequireChangeTo(applicationId);
        var application = await applications.FindAsync(applicationId, cancellationToken) ?? throw ApiError.NotFound("application");
        await ValidateAsync(input, application, cancellationToken);

        var now = DatabaseTime.Now(time);
        var endpoint = new EndpointResponse(SortableId.New("ep", now), input.Url!, input.Description ?? "", Distinct(input.EventTypes),
            input.Disabled ?? false, input.Disabled == true ? DisabledByApi : null, input.RateLimit, input.Headers ?? [], now, now);

        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await quotas.RequireRoomAsync(connection, transaction, applicationId, Quota.Endpoints, cancellationToken);
        await using (var insert = new NpgsqlCommand("""
            INSERT INTO endpoints (id, url, description, event_types, disabled, disabled_reason, rate_limit, headers,
                                   created_at, updated_at, application_id)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb, $9, $9, $10)
            """, connection, transaction))
        {
            insert.Parameters.Add(new() { Value = endpoint.Id });
            AddEndpointParameters(insert, endpoint);
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
            SELECT {Columns} FROM endpoints WHERE application_id = $1 AND ($2::text IS NULL OR id > $2) ORDER BY id LIMIT $3
            """);
        query.Parameters.Add(new() { Value = applicationId });
        return await page.ReadAsync(query, Read, e => e.Id, cancellationToken);
    }

    public async Task<EndpointResponse> GetAsync(Caller caller, string applicationId, string endpointId, CancellationToken cancellationToken)
    {
        caller.RequireAccessTo(applicationId);
        await using var query = dataSource.CreateCommand($"SELECT {Columns} FROM endpoints WHERE application_id = $1 AND id = $2");
        query.Parameters.Add(new() { Value = applicationId });
        query.Parameters.Add(new() { Value = endpointId });
        await using var reader = await query.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken) ? Read(reader) : throw ApiError.NotFound("endpoint");
    }

    /// <summary>Replaces the endpoint's definition. Re-enabling (<c>disabled: false</c>) clears the reason it was
    /// disabled, whether the API or the delivery engine disabled it, and resumes its paused deliveries.</summary>
    public async Task<EndpointResponse> UpdateAsync(Caller caller, string applicationId, string endpointId, EndpointInput input, CancellationToken cancellationToken)
    {
        caller.RequireChangeTo(applicationId);
        var application = await applications.FindAsync(applicationId, cancellationToken) ?? throw ApiError.NotFound("application");
        if (input.Secret is not null) throw ApiError.Invalid("secret", "Rotate the secret with POST …/secret/rotate.");
        await ValidateAsync(input, application, cancellationToken);

        var now = DatabaseTime.Now(time);
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        bool wasDisabled;
        await using (var current = new NpgsqlCommand(
            "SELECT disabled FROM endpoints WHERE id = $1 AND application_id = $2 FOR UPDATE", connection, transaction))
        {
            current.Parameters.Add(new() { Value = endpointId });
            current.Parameters.Add(new() { Value = applicationId });
            wasDisabled = await current.ExecuteScalarAsync(cancellationToken) as bool? ?? throw ApiError.NotFound("endpoint");
        }

        EndpointResponse updated;
        await using (var update = new NpgsqlCommand($"""
            UPDATE endpoints SET url = $2, description = $3, event_types = $4, disabled = $5,
                disabled_reason = CASE WHEN NOT $5 THEN NULL WHEN disabled THEN disabled_reason ELSE $6 END,
                rate_limit = $7, headers = $8::jsonb, updated_at = $9
            WHERE id = $1 AND application_id = $10
            RETURNING {Columns}
            """, connection, transaction))
        {
            var endpoint = new EndpointResponse(endpointId, input.Url!, input.Description ?? "", Distinct(input.EventTypes),
                input.Disabled ?? false, DisabledByApi, input.RateLimit, input.Headers ?? [], default, default);
            update.Parameters.Add(new() { Value = endpointId });
            AddEndpointParameters(update, endpoint);
            update.Parameters.Add(new() { Value = now });
            update.Parameters.Add(new() { Value = applicationId });
            await using var reader = await update.ExecuteReaderAsync(cancellationToken);
            await reader.ReadAsync(cancellationToken);
            updated = Read(reader);
        }

        if (wasDisabled && !updated.Disabled)
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

    private async Task ValidateAsync(EndpointInput input, ApplicationResponse application, CancellationToken cancellationToken)
    {
        var validation = new Validation();
        EndpointRules.Validate(input, options.Value, validation);
        validation.ThrowIfInvalid();
        if (application.RequireRegisteredEventTypes && input.EventTypes is { Length: > 0 } types)
        {
            var active = await eventTypes.ActiveAsync(application.Id, types, cancellationToken);
            foreach (var type in types.Where(t => !active.Contains(t)))
                validation.Add("eventTypes", $"'{type}' is not a registered event type of this application.");
            validation.ThrowIfInvalid();
        }
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

    // Parameters $2..$8 shared by insert and update: url, description, event_types, disabled, reason, rate_limit, headers.
    private void AddEndpointParameters(NpgsqlCommand command, EndpointResponse endpoint)
    {
        command.Parameters.Add(new() { Value = endpoint.Url });
        command.Parameters.Add(new() { Value = endpoint.Description });
        command.Parameters.Add(new() { Value = (object?)endpoint.EventTypes ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text });
        command.Parameters.Add(new() { Value = endpoint.Disabled });
        command.Parameters.Add(new() { Value = (object?)endpoint.DisabledReason ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text });
        command.Parameters.Add(new() { Value = (object?)endpoint.RateLimit ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Integer });
        command.Parameters.Add(new() { Value = JsonSerializer.Serialize(sealer.SealHeaders(endpoint.Id, endpoint.Headers)) });
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
        reader.GetFieldValue<DateTimeOffset>(9));
}
