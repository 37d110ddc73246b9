using Herald.Database;
using Herald.Messages;
using Npgsql;

namespace Herald.Processor.Delivery;

/// <summary>Records every attempt in PostgreSQL before the Kafka offset moves past it.</summary>
public sealed class AttemptLog(NpgsqlDataSource dataSource, TimeProvider time)
{
    public async Task RecordAsync(MessagePublished message, EndpointTarget endpoint, Attempt attempt, CancellationToken cancellationToken)
    {
        var now = DatabaseTime.Now(time);
        await using var insert = dataSource.CreateCommand("""
            INSERT INTO delivery_attempts
                (id, application_id, message_id, endpoint_id, status, http_status, latency_ms, response_body, error, attempted_at)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
            """);
        insert.Parameters.Add(new() { Value = SortableId.New("atmpt", now) });
        insert.Parameters.Add(new() { Value = message.ApplicationId });
        insert.Parameters.Add(new() { Value = message.MessageId });
        insert.Parameters.Add(new() { Value = endpoint.Id });
        insert.Parameters.Add(new() { Value = attempt.Succeeded ? "succeeded" : "failed" });
        insert.Parameters.Add(new() { Value = (object?)attempt.HttpStatus ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Integer });
        insert.Parameters.Add(new() { Value = (int)attempt.Latency.TotalMilliseconds });
        insert.Parameters.Add(new() { Value = (object?)attempt.ResponseBody ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Text });
        insert.Parameters.Add(new() { Value = (object?)attempt.Error ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Text });
        insert.Parameters.Add(new() { Value = now });
        try
        {
            await insert.ExecuteNonQueryAsync(cancellationToken);
        }
        catch (PostgresException exception) when (exception.SqlState == PostgresErrorCodes.ForeignKeyViolation)
        {
            // The endpoint, message or application was deleted meanwhile: there is nothing left to record against.
        }
    }
}
