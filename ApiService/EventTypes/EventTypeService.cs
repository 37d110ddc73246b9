using System.Text;
using System.Text.Json;
using Herald.ApiService.Applications;
using Herald.ApiService.Auth;
using Herald.ApiService.Http;
using Herald.ApiService.Problems;
using Herald.ApiService.Messages;
using Herald.Database;
using Npgsql;
using NpgsqlTypes;

namespace Herald.ApiService.EventTypes;

/// <summary>The event types an application declares (<c>invoice.paid</c>); endpoints filter on them and, when the
/// application asks for it, messages must use a registered one.</summary>
public sealed class EventTypeService(NpgsqlDataSource dataSource, ApplicationQuotas quotas, EventSchemaCache schemas, TimeProvider time)
{
    private const string Columns = "name, description, archived, schema::text, examples::text, created_at, updated_at";

    public async Task<EventTypeResponse> CreateAsync(Caller caller, string applicationId, EventTypeInput input, CancellationToken cancellationToken)
    {
        caller.RequireChangeTo(applicationId);
        var validation = new Validation();
        if (!EventTypeName.IsValid(input.Name)) validation.Add("name", EventTypeName.Rule);
        ValidateDescription(input.Description, validation);
        var (schema, examples) = ValidateSchema(Given(input.Schema), Given(input.Examples), validation);
        validation.ThrowIfInvalid();

        var now = DatabaseTime.Now(time);
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await quotas.RequireRoomAsync(connection, transaction, applicationId, Quota.EventTypes, cancellationToken);
        await using var insert = new NpgsqlCommand($"""
            INSERT INTO event_types (application_id, name, description, archived, schema, examples, created_at, updated_at)
            VALUES ($1, $2, $3, $4, $5::json, $6::json, $7, $7)
            ON CONFLICT DO NOTHING
            """, connection, transaction);
        insert.Parameters.Add(new() { Value = applicationId });
        insert.Parameters.Add(new() { Value = input.Name! });
        insert.Parameters.Add(new() { Value = input.Description ?? "" });
        insert.Parameters.Add(new() { Value = input.Archived ?? false });
        insert.Parameters.Add(new() { Value = (object?)schema ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text });
        insert.Parameters.Add(new() { Value = (object?)examples ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text });
        insert.Parameters.Add(new() { Value = now });
        if (await insert.ExecuteNonQueryAsync(cancellationToken) == 0)
            throw new ApiError(ApiErrorKind.Conflict, $"The event type '{input.Name}' already exists.");
        await transaction.CommitAsync(cancellationToken);
        schemas.Forget(applicationId, input.Name!);
        return new EventTypeResponse(input.Name!, input.Description ?? "", input.Archived ?? false, RawJson.From(schema), ReadExamples(examples), now, now);
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

    /// <summary>Sets the description (kept when left out), the archived flag, and the schema and examples (each kept
    /// when left out). The examples kept must hold against a new schema, so both are checked together under the row's lock.</summary>
    public async Task<EventTypeResponse> UpdateAsync(Caller caller, string applicationId, string name, EventTypeInput input, CancellationToken cancellationToken)
    {
        caller.RequireChangeTo(applicationId);
        var validation = new Validation();
        ValidateDescription(input.Description, validation);
        if (input.Name is not null && input.Name != name) validation.Add("name", "An event type cannot be renamed; create a new one.");
        validation.ThrowIfInvalid();

        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        string? schema, examples;
        await using (var current = new NpgsqlCommand(
            "SELECT schema::text, examples::text FROM event_types WHERE application_id = $1 AND name = $2 FOR UPDATE", connection, transaction))
        {
            current.Parameters.Add(new() { Value = applicationId });
            current.Parameters.Add(new() { Value = name });
            await using var reader = await current.ExecuteReaderAsync(cancellationToken);
            if (!await reader.ReadAsync(cancellationToken)) throw ApiError.NotFound("event type");
            schema = reader.IsDBNull(0) ? null : reader.GetString(0);
            examples = reader.IsDBNull(1) ? null : reader.GetString(1);
        }
        using var storedSchema = schema is null ? null : JsonDocument.Parse(schema);
        using var storedExamples = examples is null ? null : JsonDocument.Parse(examples);
        (schema, examples) = ValidateSchema(
            input.Schema.ValueKind == JsonValueKind.Undefined ? storedSchema?.RootElement : Given(input.Schema),
            input.Examples.ValueKind == JsonValueKind.Undefined ? storedExamples?.RootElement : Given(input.Examples),
            validation);
        validation.ThrowIfInvalid();

        EventTypeResponse updated;
        await using (var update = new NpgsqlCommand($"""
            UPDATE event_types SET description = coalesce($3, description), archived = $4, schema = $5::json, examples = $6::json, updated_at = $7
            WHERE application_id = $1 AND name = $2 RETURNING {Columns}
            """, connection, transaction))
        {
            update.Parameters.Add(new() { Value = applicationId });
            update.Parameters.Add(new() { Value = name });
            update.Parameters.Add(new() { Value = (object?)input.Description ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text });
            update.Parameters.Add(new() { Value = input.Archived ?? false });
            update.Parameters.Add(new() { Value = (object?)schema ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text });
            update.Parameters.Add(new() { Value = (object?)examples ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text });
            update.Parameters.Add(new() { Value = DatabaseTime.Now(time) });
            await using var reader = await update.ExecuteReaderAsync(cancellationToken);
            await reader.ReadAsync(cancellationToken);
            updated = Read(reader);
        }
        await transaction.CommitAsync(cancellationToken);
        schemas.Forget(applicationId, name);
        return updated;
    }

    /// <summary>Deleting archives: messages and endpoint filters may still name the type.</summary>
    public async Task ArchiveAsync(Caller caller, string applicationId, string name, CancellationToken cancellationToken)
    {
        caller.RequireChangeTo(applicationId);
        await using var update = dataSource.CreateCommand("UPDATE event_types SET archived = true, updated_at = $3 WHERE application_id = $1 AND name = $2");
        update.Parameters.Add(new() { Value = applicationId });
        update.Parameters.Add(new() { Value = name });
        update.Parameters.Add(new() { Value = DatabaseTime.Now(time) });
        if (await update.ExecuteNonQueryAsync(cancellationToken) == 0) throw ApiError.NotFound("event type");
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

    private static void ValidateDescription(string? description, Validation validation)
    {
        if (description is { Length: > 1024 }) validation.Add("description", "At most 1024 characters.");
        validation.RequireStorable("description", description);
    }

    /// <summary>A value the client sent; null when it sent none or JSON null.</summary>
    private static JsonElement? Given(JsonElement element) => element.ValueKind is JsonValueKind.Undefined or JsonValueKind.Null ? null : element;

    /// <summary>Checks a schema and examples that go together; returns their JSON text to store (null: none).</summary>
    private static (string? Schema, string? Examples) ValidateSchema(JsonElement? schema, JsonElement? examples, Validation validation)
    {
        EventSchema? compiled = null;
        string? schemaText = null;
        if (schema is { } given)
        {
            schemaText = given.GetRawText();
            compiled = EventSchema.Compile(schemaText, out var problem);
            if (problem is not null) validation.Add("schema", problem);
        }
        if (examples is not { } list) return (schemaText, null);
        if (list.ValueKind != JsonValueKind.Array)
        {
            validation.Add("examples", "A JSON array of example payloads (JSON objects).");
            return (schemaText, null);
        }
        var count = list.GetArrayLength();
        if (count > EventSchema.MaxExamples) validation.Add("examples", $"At most {EventSchema.MaxExamples} examples.");
        var examplesText = list.GetRawText();
        if (Encoding.UTF8.GetByteCount(examplesText) > EventSchema.MaxExamplesBytes)
            validation.Add("examples", $"At most {EventSchema.MaxExamplesBytes / 1024} KiB of JSON together.");
        if (!validation.IsValid) return (schemaText, null);
        var index = 0;
        foreach (var example in list.EnumerateArray())
        {
            var field = $"examples[{index++}]";
            if (example.ValueKind != JsonValueKind.Object)
            {
                validation.Add(field, "An example payload is a JSON object.");
                continue;
            }
            foreach (var violation in compiled?.Validate(example) ?? []) validation.Add(field, $"Does not match the schema at {violation}");
        }
        return (schemaText, count == 0 ? null : examplesText);
    }

    private static IReadOnlyList<RawJson> ReadExamples(string? examples)
    {
        if (examples is null) return [];
        using var document = JsonDocument.Parse(examples);
        return [.. document.RootElement.EnumerateArray().Select(e => new RawJson(e.GetRawText()))];
    }

    private static EventTypeResponse Read(NpgsqlDataReader reader) => new(
        reader.GetString(0), reader.GetString(1), reader.GetBoolean(2),
        RawJson.From(reader.IsDBNull(3) ? null : reader.GetString(3)),
        ReadExamples(reader.IsDBNull(4) ? null : reader.GetString(4)),
        reader.GetFieldValue<DateTimeOffset>(5), reader.GetFieldValue<DateTimeOffset>(6));
}
