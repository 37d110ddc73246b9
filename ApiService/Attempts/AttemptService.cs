using Herald.ApiService.Auth;
using Herald.ApiService.Http;
using Herald.ApiService.Problems;
using Npgsql;

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

/// <summary>What happened to each delivery attempt, by message or by endpoint, newest first.</summary>
public sealed class AttemptService(NpgsqlDataSource dataSource)
{
    public Task<Page<AttemptResponse>> ByMessageAsync(Caller caller, string applicationId, string messageId, PageRequest page, CancellationToken cancellationToken) =>
        ListAsync(caller, applicationId, "message_id", messageId, "messages", "message", page, cancellationToken);

    public Task<Page<AttemptResponse>> ByEndpointAsync(Caller caller, string applicationId, string endpointId, PageRequest page, CancellationToken cancellationToken) =>
        ListAsync(caller, applicationId, "endpoint_id", endpointId, "endpoints", "endpoint", page, cancellationToken);

    private async Task<Page<AttemptResponse>> ListAsync(Caller caller, string applicationId, string column, string id,
        string parentTable, string parentName, PageRequest page, CancellationToken cancellationToken)
    {
        caller.RequireAccessTo(applicationId);
        await using var query = dataSource.CreateCommand($"""
            SELECT id, message_id, endpoint_id, status, http_status, latency_ms, response_body, error, attempted_at, next_attempt_at
            FROM delivery_attempts
            WHERE application_id = $1 AND {column} = $2 AND ($3::text IS NULL OR id < $3)
            ORDER BY id DESC LIMIT $4
            """);
        query.Parameters.Add(new() { Value = applicationId });
        query.Parameters.Add(new() { Value = id });
        var attempts = await page.ReadAsync(query, Read, a => a.Id, cancellationToken);
        if (attempts.Data.Count == 0 && !await ExistsAsync(parentTable, applicationId, id, cancellationToken)) throw ApiError.NotFound(parentName);
        return attempts;
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
