using System.Text.Json;
using Confluent.Kafka;
using Herald.Kafka;
using Herald.Messages;
using Npgsql;

namespace Herald.ApiService.Messages;

/// <summary>
/// Commits a message to PostgreSQL, then publishes it to Kafka and marks it published. The commit comes first:
/// a message is acknowledged only once it is durable, whatever happens to Kafka afterwards.
/// </summary>
public sealed class MessageStore(NpgsqlDataSource dataSource, IProducer<string, byte[]> producer, ILogger<MessageStore> logger)
{
    public async Task<MessageResponse> CreateAsync(string eventType, string payload, CancellationToken cancellationToken)
    {
        var createdAt = Microseconds(DateTimeOffset.UtcNow);
        var id = SortableId.New("msg", createdAt);
        await using (var insert = dataSource.CreateCommand(
            "INSERT INTO messages (id, event_type, payload, created_at) VALUES ($1, $2, $3::json, $4)"))
        {
            insert.Parameters.Add(new() { Value = id });
            insert.Parameters.Add(new() { Value = eventType });
            insert.Parameters.Add(new() { Value = payload });
            insert.Parameters.Add(new() { Value = createdAt });
            await insert.ExecuteNonQueryAsync(cancellationToken);
        }

        using var document = JsonDocument.Parse(payload);
        var published = new MessagePublished(id, eventType, document.RootElement.Clone(), createdAt);
        DateTimeOffset? publishedAt = null;
        try
        {
            // Past the commit the client's cancellation no longer applies: the message exists and must go out.
            await producer.ProduceAsync(Topics.Messages.Name,
                new Message<string, byte[]> { Key = id, Value = published.ToUtf8Bytes() }, CancellationToken.None);
            var now = Microseconds(DateTimeOffset.UtcNow);
            await using var mark = dataSource.CreateCommand("UPDATE messages SET published_at = $2 WHERE id = $1");
            mark.Parameters.Add(new() { Value = id });
            mark.Parameters.Add(new() { Value = now });
            await mark.ExecuteNonQueryAsync(CancellationToken.None);
            publishedAt = now;
        }
        catch (ProduceException<string, byte[]> exception)
        {
            logger.LogWarning("Message {MessageId} is committed but not yet published to Kafka: {Reason}", id, exception.Error.Reason);
        }

        return new MessageResponse(id, eventType, published.Payload, createdAt, publishedAt);
    }

    // PostgreSQL keeps microseconds; rounding first makes the response equal what a later read returns.
    private static DateTimeOffset Microseconds(DateTimeOffset time) =>
        new(time.UtcTicks - time.UtcTicks % TimeSpan.TicksPerMicrosecond, TimeSpan.Zero);

    public async Task<MessageResponse?> FindAsync(string id, CancellationToken cancellationToken)
    {
        await using var query = dataSource.CreateCommand(
            "SELECT event_type, payload::text, created_at, published_at FROM messages WHERE id = $1");
        query.Parameters.Add(new() { Value = id });
        await using var reader = await query.ExecuteReaderAsync(cancellationToken);
        if (!await reader.ReadAsync(cancellationToken)) return null;
        using var payload = JsonDocument.Parse(reader.GetString(1));
        return new MessageResponse(id, reader.GetString(0), payload.RootElement.Clone(),
            reader.GetFieldValue<DateTimeOffset>(2), reader.IsDBNull(3) ? null : reader.GetFieldValue<DateTimeOffset>(3));
    }
}
