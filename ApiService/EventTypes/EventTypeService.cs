using Herald.ApiService.Applications;
using Herald.ApiService.Auth;
using Herald.ApiService.Http;
using Herald.ApiService.Problems;
using Herald.Database;
using Npgsql;

namespace Herald.ApiService.EventTypes;

/// <summary>The event types an application declares (<c>invoice.paid</c>); endpoints filter on them and, when the
/// application asks for it, messages must use a registered one.</summary>
public sealed class EventTypeService(NpgsqlDataSource dataSource, ApplicationQuotas quotas, TimeProvider time)
{
    private const string Columns = "name, description, archived, created_at, updated_at";

    public async Task<EventTypeResponse> CreateAsync(Caller caller, string applicationId, EventTypeInput input, CancellationToken cancellationToken)
    {
        caller.RequireChangeTo(applicationId);
        var validation = new Validation();
        if (!EventTypeName.IsValid(input.Name)) validation.Add("name", EventTypeName.Rule);
        ValidateDescription(input.Description, validation);
        validation.ThrowIfInvalid();

        var now = DatabaseTime.Now(time);
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await quotas.RequireRoomAsync(connection, transaction, applicationId, Quota.EventTypes, cancellationToken);
        await using var insert = new NpgsqlCommand($"""
            INSERT INTO event_types (application_id, {Columns}) VALUES ($1, $2, $3, $4, $5, $5)
            ON CONFLICT DO NOTHING
            """, connection, transaction);
        insert.Parameters.Add(new() { Value = applicationId });
        insert.Parameters.Add(new() { Value = input.Name! });
        insert.Parameters.Add(new() { Value = input.Description ?? "" });
        insert.Parameters.Add(new() { Value = input.Archived ?? false });
        insert.Parameters.Add(new() { Value = now });
        if (await insert.ExecuteNonQueryAsync(cancellationToken) == 0)
            throw new ApiError(ApiErrorKind.Conflict, $"The event type '{input.Name}' already exists.");
        await transaction.CommitAsync(cancellationToken);
        return new EventTypeResponse(input.Name!, input.Description ?? "", input.Archived ?? false, now, now);
    }

    public async Task<Page<EventTypeResponse>> ListAsync(Caller caller, string applicationId, bool includeArchived, PageRequest page, CancellationToken cancellationToken)
    {
        caller.RequireAccessTo(applicationId);
        await using var query = dataSource.CreateCommand($"""
            SELECT {Columns} FROM event_types
            WHERE application_id = $1 AND ($2 OR NOT archived) AND ($3::text IS NULL OR name > $3)
            ORDER BY name LIMIT $4
            """);
        query.Parameters.Add(new() { Value = applicationId });
        query.Parameters.Add(new() { Value = includeArchived });
        return await page.ReadAsync(query, Read, e => e.Name, cancellationToken);
    }

    public async Task<EventTypeResponse> GetAsync(Caller caller, string applicationId, string name, CancellationToken cancellationToken)
    {
        caller.RequireAccessTo(applicationId);
        await using var query = dataSource.CreateCommand($"SELECT {Columns} FROM event_types WHERE application_id = $1 AND name = $2");
        query.Parameters.Add(new() { Value = applicationId });
        query.Parameters.Add(new() { Value = name });
        await using var reader = await query.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken) ? Read(reader) : throw ApiError.NotFound("event type");
    }

    public async Task<EventTypeResponse> UpdateAsync(Caller caller, string applicationId, string name, EventTypeInput input, CancellationToken cancellationToken)
    {
        caller.RequireChangeTo(applicationId);
        var validation = new Validation();
        ValidateDescription(input.Description, validation);
        if (input.Name is not null && input.Name != name) validation.Add("name", "An event type cannot be renamed; create a new one.");
        validation.ThrowIfInvalid();
        return await SetAsync(applicationId, name, input.Description, input.Archived ?? false, cancellationToken);
    }

    /// <summary>Deleting archives: messages and endpoint filters may still name the type.</summary>
    public async Task ArchiveAsync(Caller caller, string applicationId, string name, CancellationToken cancellationToken)
    {
        caller.RequireChangeTo(applicationId);
        await SetAsync(applicationId, name, description: null, archived: true, cancellationToken);
    }

    /// <summary>The names among <paramref name="names"/> that are registered and not archived.</summary>
    public async Task<HashSet<string>> ActiveAsync(string applicationId, IReadOnlyCollection<string> names, CancellationToken cancellationToken)
    {
        await using var query = dataSource.CreateCommand(
            "SELECT name FROM event_types WHERE application_id = $1 AND name = ANY($2) AND NOT archived");
        query.Parameters.Add(new() { Value = applicationId });
        query.Parameters.Add(new() { Value = names.ToArray() });
        var active = new HashSet<string>(StringComparer.Ordinal);
        await using var reader = await query.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken)) active.Add(reader.GetString(0));
        return active;
    }

    private async Task<EventTypeResponse> SetAsync(string applicationId, string name, string? description, bool archived, CancellationToken cancellationToken)
    {
        await using var update = dataSource.CreateCommand($"""
            UPDATE event_types SET description = coalesce($3, description), archived = $4, updated_at = $5
            WHERE application_id = $1 AND name = $2 RETURNING {Columns}
            """);
        update.Parameters.Add(new() { Value = applicationId });
        update.Parameters.Add(new() { Value = name });
        update.Parameters.Add(new() { Value = (object?)description ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Text });
        update.Parameters.Add(new() { Value = archived });
        update.Parameters.Add(new() { Value = DatabaseTime.Now(time) });
        await using var reader = await update.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken) ? Read(reader) : throw ApiError.NotFound("event type");
    }

    private static void ValidateDescription(string? description, Validation validation)
    {
        if (description is { Length: > 1024 }) validation.Add("description", "At most 1024 characters.");
        validation.RequireStorable("description", description);
    }

    private static EventTypeResponse Read(NpgsqlDataReader reader) => new(
        reader.GetString(0), reader.GetString(1), reader.GetBoolean(2),
        reader.GetFieldValue<DateTimeOffset>(3), reader.GetFieldValue<DateTimeOffset>(4));
}
