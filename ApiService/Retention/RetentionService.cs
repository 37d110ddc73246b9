using Herald.ApiService.Idempotency;
using Herald.ApiService.Messages;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Herald.ApiService.Retention;

/// <summary>Drops message payloads older than <see cref="MessageOptions.PayloadRetention"/>, or past a message's own
/// shorter retention (the message and its attempts stay), with the response bodies its attempts kept, and idempotency
/// keys past their 24 h. Safe to run in every replica: each pass is idempotent.</summary>
public sealed class RetentionService(NpgsqlDataSource dataSource, IOptions<MessageOptions> options, TimeProvider time, ILogger<RetentionService> logger)
    : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await RunOnceAsync(stoppingToken);
                await Task.Delay(options.Value.RetentionInterval, time, stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception exception) when (exception is NpgsqlException or TimeoutException)
            {
                logger.LogWarning("Retention pass failed; retrying later: {Reason}", exception.Message);
                await Task.Delay(options.Value.RetentionInterval, time, stoppingToken).ContinueWith(_ => { }, TaskScheduler.Default);
            }
        }
    }

    public async Task RunOnceAsync(CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        int expired;
        do
        {
            // In slices, so one pass never holds many row locks at once: messages past the global period (those with
            // their own, shorter one are found by it first), then those past their own.
            await using var strip = dataSource.CreateCommand("""
                WITH expired AS (
                    UPDATE messages SET payload = NULL WHERE id IN (
                        (SELECT id FROM messages m WHERE payload IS NOT NULL AND created_at < $1
                           AND NOT EXISTS (SELECT 1 FROM message_outbox o WHERE o.message_id = m.id) LIMIT 5000)
                        UNION
                        (SELECT id FROM messages m WHERE payload IS NOT NULL AND payload_expires_at < $2
                           AND NOT EXISTS (SELECT 1 FROM message_outbox o WHERE o.message_id = m.id) LIMIT 5000))
                    RETURNING id),
                bodies AS (
                    UPDATE delivery_attempts a SET response_body = NULL FROM expired
                    WHERE a.message_id = expired.id AND a.response_body IS NOT NULL)
                SELECT count(*) FROM expired
                """);
            strip.Parameters.Add(new() { Value = now - options.Value.PayloadRetention });
            strip.Parameters.Add(new() { Value = now });
            expired = (int)(long)(await strip.ExecuteScalarAsync(cancellationToken))!;
            if (expired > 0) logger.LogInformation("Retention removed {Count} payloads and their attempts' response bodies", expired);
        }
        while (expired >= 5000);

        await using var keys = dataSource.CreateCommand("DELETE FROM idempotency_keys WHERE created_at < $1");
        keys.Parameters.Add(new() { Value = now - IdempotencyStore.Lifetime });
        await keys.ExecuteNonQueryAsync(cancellationToken);
    }
}
