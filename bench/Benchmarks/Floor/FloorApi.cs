using System.Text;
using Confluent.Kafka;
using Herald.Database;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;

namespace Herald.Bench.Floor;

/// <summary>
/// The floor's ingest: a bare Kestrel POST that group-commits the message row and produces the message to Kafka (acks
/// from all in-sync replicas, idempotent) before answering 202 with its id. No authentication, validation, telemetry or
/// outbox: only the durable work of accepting a message.
/// </summary>
public static class FloorApi
{
    public const string Command = "floor-api";

    private sealed record Row(Guid Id, int Endpoint, byte[] Payload);

    public static async Task RunAsync(FloorSettings settings)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        var app = builder.Build();

        await using var database = NpgsqlDataSource.Create(settings.Postgres);
        using var producer = new ProducerBuilder<byte[], byte[]>(settings.KafkaClients().ProducerConfig()).Build();
        await using var messages = new GroupCommit<Row, bool>(batch => InsertAsync(database, batch),
            (_, failures) => failures < 5 ? FailedBatch.Backoff(failures, TimeSpan.FromSeconds(1)) : FailedBatch.Fail(),
            writers: 4, maxBatchSize: 256, NullLogger.Instance);

        app.MapPost("/messages", async (HttpRequest request, int endpoint) =>
        {
            using var body = new MemoryStream();
            await request.Body.CopyToAsync(body);
            var row = new Row(Guid.CreateVersion7(), endpoint, body.ToArray());
            await messages.SubmitAsync(row);
            await producer.ProduceAsync(settings.Topic, new Message<byte[], byte[]>
            {
                Key = row.Id.ToByteArray(),
                Value = row.Payload,
                Headers = [new Header("endpoint", Encoding.ASCII.GetBytes(endpoint.ToString(System.Globalization.CultureInfo.InvariantCulture)))],
            });
            return Results.Json(new { id = row.Id.ToString("N") }, statusCode: StatusCodes.Status202Accepted);
        });
        await app.StartAsync();
        FloorProcess.Ready(app);
        await app.WaitForShutdownAsync();
    }

    private static async Task<IReadOnlyList<bool>> InsertAsync(NpgsqlDataSource database, IReadOnlyList<Row> batch)
    {
        await using var insert = database.CreateCommand(
            "INSERT INTO floor_messages (id, endpoint, payload) SELECT * FROM unnest($1::uuid[], $2::int[], $3::bytea[])");
        insert.Parameters.Add(new() { Value = batch.Select(r => r.Id).ToArray() });
        insert.Parameters.Add(new() { Value = batch.Select(r => r.Endpoint).ToArray() });
        insert.Parameters.Add(new() { Value = batch.Select(r => r.Payload).ToArray() });
        await insert.ExecuteNonQueryAsync();
        return [.. batch.Select(_ => true)];
    }
}
