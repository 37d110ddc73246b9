using Npgsql;

namespace Herald.Processor.Delivery;

/// <summary>Records every attempt in PostgreSQL before the Kafka offset moves past it.</summary>
public sealed class AttemptLog(NpgsqlDataSource dataSource)
{
    public async Task RecordAsync(string messageId, Uri endpoint, Attempt attempt, CancellationToken cancellationToken)
    {
        await using var insert = dataSource.CreateCommand("""
            INSERT INTO delivery_attempts (message_id, endpoint_url, succeeded, http_status, latency_ms, response_body, error)
            VALUES ($1, $2, $3, $4, $5, $6, $7)
            """);
        insert.Parameters.Add(new() { Value = messageId });
        insert.Parameters.Add(new() { Value = endpoint.ToString() });
        insert.Parameters.Add(new() { Value = attempt.Succeeded });
        insert.Parameters.Add(new() { Value = (object?)attempt.HttpStatus ?? DBNull.Value });
        insert.Parameters.Add(new() { Value = (int)attempt.Latency.TotalMilliseconds });
        insert.Parameters.Add(new() { Value = (object?)attempt.ResponseBody ?? DBNull.Value });
        insert.Parameters.Add(new() { Value = (object?)attempt.Error ?? DBNull.Value });
        await insert.ExecuteNonQueryAsync(cancellationToken);
    }
}
