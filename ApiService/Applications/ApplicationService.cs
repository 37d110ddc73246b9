using Herald.ApiService.Auth;
using Herald.ApiService.Http;
using Herald.ApiService.Problems;
using Herald.Database;
using Herald.Deliveries;
using Herald.Messages;
using Herald.Operations;
using Npgsql;

namespace Herald.ApiService.Applications;

/// <summary>Applications are Herald's tenants: one per customer or environment of the user's product.</summary>
public sealed class ApplicationService(NpgsqlDataSource dataSource, TimeProvider time)
{
    private const string Columns = "id, name, rate_limit, require_registered_event_types, validate_payloads, created_at, updated_at, retry_policy";

    public async Task<ApplicationResponse> CreateAsync(Caller caller, ApplicationInput input, CancellationToken cancellationToken)
    {
        caller.RequireAdmin("create applications");
        var (name, rateLimit, requireTypes, validatePayloads, retryPolicy) = Validate(input);
        var now = DatabaseTime.Now(time);
        var application = new ApplicationResponse(SortableId.New("app", now), name, rateLimit, requireTypes, validatePayloads, now, now, retryPolicy);
        await using var insert = dataSource.CreateCommand($"INSERT INTO applications ({Columns}) VALUES ($1, $2, $3, $4, $6, $5, $5, $7::jsonb)");
        insert.Parameters.Add(new() { Value = application.Id });
        insert.Parameters.Add(new() { Value = name });
        insert.Parameters.Add(new() { Value = (object?)rateLimit ?? DBNull.Value });
        insert.Parameters.Add(new() { Value = requireTypes });
        insert.Parameters.Add(new() { Value = now });
        insert.Parameters.Add(new() { Value = validatePayloads });
        insert.Parameters.Add(PolicyParameter(retryPolicy));
        await insert.ExecuteNonQueryAsync(cancellationToken);
        return application;
    }

    public async Task<Page<ApplicationResponse>> ListAsync(Caller caller, PageRequest page, CancellationToken cancellationToken)
    {
        caller.RequireAdmin("list applications");
        await using var query = dataSource.CreateCommand(
            $"SELECT {Columns} FROM applications WHERE ($1::text IS NULL OR id > $1) AND id <> '{OperationalEvents.ApplicationId}' ORDER BY id LIMIT $2");
        return await page.ReadAsync(query, Read, a => a.Id, cancellationToken);
    }

    public async Task<ApplicationResponse> GetAsync(Caller caller, string applicationId, CancellationToken cancellationToken)
    {
        caller.RequireAccessTo(applicationId);
        return await FindAsync(applicationId, cancellationToken) ?? throw ApiError.NotFound("application");
    }

    public async Task<ApplicationResponse> UpdateAsync(Caller caller, string applicationId, ApplicationInput input, CancellationToken cancellationToken)
    {
        caller.RequireChangeTo(applicationId);
        var (name, rateLimit, requireTypes, validatePayloads, retryPolicy) = Validate(input);
        // The application's rate limit bounds what its keys may do: only an operator moves it.
        if (!caller.IsAdmin && (await FindAsync(applicationId, cancellationToken) ?? throw ApiError.NotFound("application")).RateLimit != rateLimit)
            caller.RequireAdmin("change an application's rateLimit");
        await using var update = dataSource.CreateCommand($"""
            UPDATE applications SET name = $2, rate_limit = $3, require_registered_event_types = $4, validate_payloads = $6, updated_at = $5,
                retry_policy = $7::jsonb
            WHERE id = $1 RETURNING {Columns}
            """);
        update.Parameters.Add(new() { Value = applicationId });
        update.Parameters.Add(new() { Value = name });
        update.Parameters.Add(new() { Value = (object?)rateLimit ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Integer });
        update.Parameters.Add(new() { Value = requireTypes });
        update.Parameters.Add(new() { Value = DatabaseTime.Now(time) });
        update.Parameters.Add(new() { Value = validatePayloads });
        update.Parameters.Add(PolicyParameter(retryPolicy));
        await using var reader = await update.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken) ? Read(reader) : throw ApiError.NotFound("application");
    }

    public async Task DeleteAsync(Caller caller, string applicationId, CancellationToken cancellationToken)
    {
        caller.RequireChangeTo(applicationId);
        caller.RequireAdmin("delete applications");
        await using var delete = dataSource.CreateCommand("DELETE FROM applications WHERE id = $1");
        delete.Parameters.Add(new() { Value = applicationId });
        if (await delete.ExecuteNonQueryAsync(cancellationToken) == 0) throw ApiError.NotFound("application");
    }

    /// <summary>The application, or null; for other features that must 404 on a missing application.</summary>
    public async Task<ApplicationResponse?> FindAsync(string applicationId, CancellationToken cancellationToken)
    {
        await using var query = dataSource.CreateCommand($"SELECT {Columns} FROM applications WHERE id = $1");
        query.Parameters.Add(new() { Value = applicationId });
        await using var reader = await query.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken) ? Read(reader) : null;
    }

    private static NpgsqlParameter PolicyParameter(RetryPolicy? policy) =>
        new() { Value = (object?)policy?.ToJson() ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Text };

    private static (string Name, int? RateLimit, bool RequireTypes, bool ValidatePayloads, RetryPolicy? RetryPolicy) Validate(ApplicationInput input)
    {
        var validation = new Validation();
        var name = input.Name?.Trim();
        if (string.IsNullOrEmpty(name) || name.Length > 256) validation.Add("name", "Required, at most 256 characters.");
        validation.RequireStorable("name", name);
        if (input.RateLimit is < 1 or > 1_000_000) validation.Add("rateLimit", "Deliveries per second, from 1 to 1,000,000, or null for no limit.");
        if (input.RetryPolicy is { } policy)
            foreach (var (field, error) in policy.Problems("retryPolicy")) validation.Add(field, error);
        validation.ThrowIfInvalid();
        return (name!, input.RateLimit, input.RequireRegisteredEventTypes ?? false, input.ValidatePayloads ?? false,
            input.RetryPolicy is { IsEmpty: false } given ? given.Normalized() : null);
    }

    private static ApplicationResponse Read(NpgsqlDataReader reader) => new(
        reader.GetString(0),
        reader.GetString(1),
        reader.IsDBNull(2) ? null : reader.GetInt32(2),
        reader.GetBoolean(3),
        reader.GetBoolean(4),
        reader.GetFieldValue<DateTimeOffset>(5),
        reader.GetFieldValue<DateTimeOffset>(6),
        RetryPolicy.FromJson(reader.IsDBNull(7) ? null : reader.GetString(7)));
}
