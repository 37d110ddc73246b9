using Herald.ApiService.Auth;
using Herald.ApiService.Http;
using Herald.ApiService.Problems;
using Npgsql;
using NpgsqlTypes;

namespace Herald.ApiService.Attempts;

public sealed record AttemptResponse(
    string Id,
    string MessageId,
    string EndpointId,
    string Status,
    int? HttpStatus,
    int LatencyMs,
    string? ResponseBody,
    string? Error,
    DateTimeOffset AttemptedAt,
    DateTimeOffset? NextAttemptAt);

/// <summary>What happened to each delivery attempt — in the whole application, or of one message or endpoint — newest
/// first, filtered by one <see cref="AttemptFilter"/>.</summary>
public sealed class AttemptService(NpgsqlDataSource dataSource)
{
    public Task<Page<AttemptResponse>> SearchAsync(Caller caller, string applicationId, AttemptFilter filter, PageRequest page, CancellationToken cancellationToken)
    {
        caller.RequireAccessTo(applicationId);
        return ReadPageAsync(applicationId, filter, page, cancellationToken);
    }

    /// <summary>404 if the message is not the application's.</summary>
    public Task<Page<AttemptResponse>> ByMessageAsync(Caller caller, string applicationId, string messageId, AttemptFilter filter, PageRequest page,
        CancellationToken cancellationToken) =>
        ListAsync(caller, applicationId, filter with { MessageId = messageId }, "messages", messageId, "message", page, cancellationToken);

    /// <summary>404 if the endpoint is not the application's.</summary>
    public Task<Page<AttemptResponse>> ByEndpointAsync(Caller caller, string applicationId, string endpointId, AttemptFilter filter, PageRequest page,
        CancellationToken cancellationToken) =>
        ListAsync(caller, applicationId, filter with { EndpointId = endpointId }, "endpoints", endpointId, "endpoint", page, cancellationToken);

    private async Task<Page<AttemptResponse>> ListAsync(Caller caller, string applicationId, AttemptFilter filter,
        string parentTable, string parentId, string parentName, PageRequest page, CancellationToken cancellationToken)
    {
        caller.RequireAccessTo(applicationId);
        var attempts = await ReadPageAsync(applicationId, filter, page, cancellationToken);
        // An empty page may mean a parent that is not there (or another application's): that is a 404.
        if (attempts.Data.Count == 0 && !await ExistsAsync(parentTable, applicationId, parentId, cancellationToken)) throw ApiError.NotFound(parentName);
        return attempts;
    }

    private async Task<Page<AttemptResponse>> ReadPageAsync(string applicationId, AttemptFilter filter, PageRequest page, CancellationToken cancellationToken)
    {
        if (filter.MatchesNothing) return new Page<AttemptResponse>([], null, true);
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var batch = new NpgsqlBatch(connection);
        batch.BatchCommands.Add(AttemptQuery.CustomPlans());
        var query = new NpgsqlBatchCommand();
        var where = AttemptQuery.Where(query.Parameters, applicationId, filter);
        // The iterator is a condition only when there is one (see AttemptQuery: no "IS NULL OR" in a prepared plan).
        if (page.Iterator is not null)
        {
            query.Parameters.Add(new() { Value = page.Iterator, NpgsqlDbType = NpgsqlDbType.Text });
            where += $" AND id < ${query.Parameters.Count}";
        }
        query.Parameters.Add(new() { Value = page.Limit + 1 });
        query.CommandText = $"""
            SELECT id, message_id, endpoint_id, status, http_status, latency_ms, response_body, error, attempted_at, next_attempt_at
            FROM delivery_attempts
            WHERE {where}
            ORDER BY id DESC LIMIT ${query.Parameters.Count}
            """;
        batch.BatchCommands.Add(query);
        var rows = new List<AttemptResponse>();
        await using var reader = await batch.ExecuteReaderAsync(cancellationToken);
        await reader.NextResultAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken)) rows.Add(Read(reader));
        return Page<AttemptResponse>.From(rows, page.Limit, a => a.Id);
    }

    private static AttemptResponse Read(NpgsqlDataReader reader) => new(
        reader.GetString(0), reader.GetString(1), reader.GetString(2), reader.GetString(3),
        reader.IsDBNull(4) ? null : reader.GetInt32(4), reader.GetInt32(5),
        reader.IsDBNull(6) ? null : reader.GetString(6), reader.IsDBNull(7) ? null : reader.GetString(7),
        reader.GetFieldValue<DateTimeOffset>(8), reader.IsDBNull(9) ? null : reader.GetFieldValue<DateTimeOffset>(9));

    private async Task<bool> ExistsAsync(string table, string applicationId, string id, CancellationToken cancellationToken)
    {
        await using var query = dataSource.CreateCommand($"SELECT 1 FROM {table} WHERE application_id = $1 AND id = $2");
        query.Parameters.Add(new() { Value = applicationId });
        query.Parameters.Add(new() { Value = id });
        return await query.ExecuteScalarAsync(cancellationToken) is not null;
    }
}
