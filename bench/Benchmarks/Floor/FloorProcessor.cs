using System.Globalization;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using System.Threading.Channels;
using Confluent.Kafka;
using Herald.AppHost.Infrastructure.Local;
using Herald.Database;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;

namespace Herald.Bench.Floor;

/// <summary>
/// The floor's delivery: one consumer (Herald's consumer settings) that, per message, group-commits a delivery row, POSTs
/// the same bytes signed as Standard Webhooks sign them to the receiver, and group-commits the attempt row and the
/// delivery's new state in one statement. Offsets are stored once a message's writes are committed, in order.
/// </summary>
public static class FloorProcessor
{
    public const string Command = "floor-processor";

    /// <summary>The floor's endpoints share one signing secret; the signature costs the same whatever the key.</summary>
    private static readonly byte[] Secret = RandomNumberGenerator.GetBytes(32);

    private sealed record Delivery(Guid MessageId, int Endpoint);

    private sealed record Attempt(Guid MessageId, int Endpoint, int Status);

    public static async Task RunAsync(FloorSettings settings)
    {
        await using var database = NpgsqlDataSource.Create(settings.Postgres);
        using var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = 256, PooledConnectionLifetime = Timeout.InfiniteTimeSpan });
        var retry = (Exception _, int failures) => failures < 5 ? FailedBatch.Backoff(failures, TimeSpan.FromSeconds(1)) : FailedBatch.Fail();
        await using var deliveries = new GroupCommit<Delivery, bool>(batch => InsertDeliveriesAsync(database, batch), retry, 4, 256, NullLogger.Instance);
        await using var attempts = new GroupCommit<Attempt, bool>(batch => RecordAttemptsAsync(database, batch), retry, 4, 256, NullLogger.Instance);
        var config = settings.KafkaClients().ConsumerConfig("floor");
        // What Herald's local mode sets against the embedded mock brokers, which answer a fetch only when it expires.
        config.FetchWaitMaxMs = EmbeddedKafkaExtensions.FetchWaitMs;
        using var consumer = new ConsumerBuilder<byte[], byte[]>(config).Build();
        consumer.Subscribe(settings.Topic);

        // Batches in flight, in the order consumed: their offsets are stored in that order once each has finished.
        var inFlight = Channel.CreateBounded<(Task Work, ConsumeResult<byte[], byte[]> Last)>(64);
        var storer = Task.Run(async () =>
        {
            await foreach (var (work, last) in inFlight.Reader.ReadAllAsync())
            {
                await work;
                consumer.StoreOffset(last);
            }
        });

        using var stopping = new CancellationTokenSource();
        AppDomain.CurrentDomain.ProcessExit += (_, _) => stopping.Cancel();
        FloorProcess.Ready(null);
        try
        {
            while (true)
            {
                var first = consumer.Consume(stopping.Token);
                var batch = new List<ConsumeResult<byte[], byte[]>> { first };
                while (batch.Count < 256 && consumer.Consume(TimeSpan.Zero) is { } next) batch.Add(next);
                // Offsets are per partition: the storer stores each partition's last record of the batch.
                foreach (var partition in batch.GroupBy(r => r.TopicPartition))
                {
                    var records = partition.ToList();
                    await inFlight.Writer.WriteAsync((Task.WhenAll(records.Select(DeliverAsync)), records[^1]));
                }
            }
        }
        catch (OperationCanceledException)
        {
            inFlight.Writer.Complete();
            await storer;
            consumer.Close();
        }

        async Task DeliverAsync(ConsumeResult<byte[], byte[]> record)
        {
            var delivery = new Delivery(new Guid(record.Message.Key),
                int.Parse(Encoding.ASCII.GetString(record.Message.Headers.GetLastBytes("endpoint")), CultureInfo.InvariantCulture));
            await deliveries.SubmitAsync(delivery);
            var id = delivery.MessageId.ToString("N");
            var timestamp = DateTimeOffset.UtcNow.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture);
            using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(settings.Receiver, $"/latency/floor-{delivery.Endpoint}"))
            {
                Content = new ByteArrayContent(record.Message.Value) { Headers = { ContentType = new MediaTypeHeaderValue("application/json") } },
            };
            request.Headers.Add("webhook-id", id);
            request.Headers.Add("webhook-timestamp", timestamp);
            request.Headers.Add("webhook-signature", "v1," + Sign(id, timestamp, record.Message.Value));
            int status;
            try
            {
                using var response = await http.SendAsync(request);
                status = (int)response.StatusCode;
            }
            catch (HttpRequestException)
            {
                status = 0;
            }
            await attempts.SubmitAsync(new Attempt(delivery.MessageId, delivery.Endpoint, status));
        }
    }

    private static string Sign(string id, string timestamp, byte[] body)
    {
        var prefix = Encoding.UTF8.GetBytes($"{id}.{timestamp}.");
        var signed = new byte[prefix.Length + body.Length];
        prefix.CopyTo(signed, 0);
        body.CopyTo(signed, prefix.Length);
        return Convert.ToBase64String(HMACSHA256.HashData(Secret, signed));
    }

    private static async Task<IReadOnlyList<bool>> InsertDeliveriesAsync(NpgsqlDataSource database, IReadOnlyList<Delivery> batch)
    {
        await using var insert = database.CreateCommand("""
            INSERT INTO floor_deliveries (message_id, endpoint) SELECT * FROM unnest($1::uuid[], $2::int[])
            ON CONFLICT DO NOTHING
            """);
        insert.Parameters.Add(new() { Value = batch.Select(d => d.MessageId).ToArray() });
        insert.Parameters.Add(new() { Value = batch.Select(d => d.Endpoint).ToArray() });
        await insert.ExecuteNonQueryAsync();
        return [.. batch.Select(_ => true)];
    }

    private static async Task<IReadOnlyList<bool>> RecordAttemptsAsync(NpgsqlDataSource database, IReadOnlyList<Attempt> batch)
    {
        await using var record = database.CreateCommand("""
            WITH attempt AS (
                INSERT INTO floor_attempts (message_id, endpoint, status)
                SELECT * FROM unnest($1::uuid[], $2::int[], $3::int[])
                RETURNING message_id, endpoint, status)
            UPDATE floor_deliveries d
               SET state = CASE WHEN a.status BETWEEN 200 AND 299 THEN 'succeeded' ELSE 'pending' END,
                   attempts = d.attempts + 1
              FROM attempt a
             WHERE d.message_id = a.message_id AND d.endpoint = a.endpoint
            """);
        record.Parameters.Add(new() { Value = batch.Select(a => a.MessageId).ToArray() });
        record.Parameters.Add(new() { Value = batch.Select(a => a.Endpoint).ToArray() });
        record.Parameters.Add(new() { Value = batch.Select(a => a.Status).ToArray() });
        await record.ExecuteNonQueryAsync();
        return [.. batch.Select(_ => true)];
    }
}
