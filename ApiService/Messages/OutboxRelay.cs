using Confluent.Kafka;
using Herald.ApiService.Telemetry;
using Herald.Kafka;
using Herald.Messages;
using Herald.ServiceDefaults.Telemetry;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Herald.ApiService.Messages;

/// <summary>
/// Republishes every committed message that has not reached Kafka — because Kafka was down past the producer's
/// timeout, or the API process died between commit and publish. Rows are claimed with <c>FOR UPDATE SKIP LOCKED</c>,
/// so any number of API replicas can run it side by side without publishing a message twice at once.
/// </summary>
public sealed class OutboxRelay(
    NpgsqlDataSource dataSource,
    IProducer<string, byte[]> producer,
    MessagePublisher publisher,
    IOptions<MessageOptions> options,
    ApiMetrics metrics,
    TimeProvider time,
    ILogger<OutboxRelay> logger) : BackgroundService
{
    private const int BatchSize = 500;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                var republished = await RelayOnceAsync(stoppingToken);
                if (republished > 0) logger.LogInformation("Relay republished {Count} committed messages to Kafka", republished);
                if (republished == BatchSize) continue; // more are waiting
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception exception)
            {
                logger.LogWarning("Relay pass failed; retrying: {Reason}", exception.Message);
            }
            try
            {
                await Task.Delay(options.Value.RelayInterval, time, stoppingToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    /// <summary>One pass: claim a batch of old unpublished messages, publish them, mark them. Returns how many.</summary>
    public async Task<int> RelayOnceAsync(CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        var claimed = new List<MessagePublished>();
        var traces = new List<string?>();
        await using (var claim = new NpgsqlCommand("""
            SELECT m.id, m.application_id, m.event_type, m.payload::text, m.created_at, m.trace_parent
            FROM message_outbox o JOIN messages m ON m.id = o.message_id
            WHERE o.created_at < $1
            ORDER BY o.created_at LIMIT $2
            FOR UPDATE OF o SKIP LOCKED
            """, connection, transaction))
        {
            claim.Parameters.Add(new() { Value = time.GetUtcNow() - options.Value.RelayGrace });
            claim.Parameters.Add(new() { Value = BatchSize });
            await using var reader = await claim.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                var id = reader.GetString(0);
                if (publisher.IsInFlight(id)) continue; // this process is still on it
                claimed.Add(new MessagePublished(id, reader.GetString(1), reader.GetString(2),
                    reader.IsDBNull(3) ? "null" : reader.GetString(3), reader.GetFieldValue<DateTimeOffset>(4)));
                traces.Add(reader.IsDBNull(5) ? null : reader.GetString(5));
            }
        }
        if (claimed.Count == 0) return 0;

        var deliveries = new List<Task<DeliveryResult<string, byte[]>>>(claimed.Count);
        for (var i = 0; i < claimed.Count; i++)
        {
            // The republication continues the trace of the request that created the message.
            var trace = TracePropagation.Parse(traces[i]);
            using var activity = MessagePublisher.StartPublishActivity(claimed[i].MessageId, claimed[i].ApplicationId, trace);
            activity?.SetTag("herald.outbox.relayed", true);
            deliveries.Add(producer.ProduceAsync(Topics.Messages.Name, publisher.Record(claimed[i], activity, trace), cancellationToken));
        }
        var published = new List<string>();
        for (var i = 0; i < claimed.Count; i++)
        {
            try
            {
                await deliveries[i];
                published.Add(claimed[i].MessageId);
            }
            catch (ProduceException<string, byte[]> exception)
            {
                logger.LogWarning("Relay could not publish {MessageId}: {Reason}", claimed[i].MessageId, exception.Error.Reason);
            }
        }

        await using (var mark = new NpgsqlCommand("DELETE FROM message_outbox WHERE message_id = ANY($1)", connection, transaction))
        {
            mark.Parameters.Add(new() { Value = published.ToArray() });
            await mark.ExecuteNonQueryAsync(cancellationToken);
        }
        await transaction.CommitAsync(cancellationToken);
        metrics.Republished(published.Count);
        return published.Count;
    }
}
