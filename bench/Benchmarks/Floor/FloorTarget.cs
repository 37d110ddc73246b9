using Aspire.Hosting.Testing;
using Herald.AppHost.Infrastructure.Local;
using Herald.Bench.Cost;
using Herald.Bench.Delivery;
using Microsoft.Extensions.DependencyInjection;

namespace Herald.Bench.Floor;

/// <summary>The floor (<see cref="FloorApi"/>, <see cref="FloorProcessor"/>) on Herald's PostgreSQL and Kafka, delivering
/// to the same receiver: the same durable work per message as Herald, with the least code.</summary>
public sealed class FloorTarget : Target, IAsyncDisposable
{
    public const string Topic = "floor.messages";

    private readonly FloorProcess _api;
    private FloorProcess? _processor;

    private FloorTarget(FloorProcess api, FloorProcess processor, int endpoints) : base("floor", endpoints) => (_api, _processor) = (api, processor);

    public static async Task<FloorTarget> StartAsync(HeraldUnderTest herald, Receiver receiver, int endpoints)
    {
        var settings = new FloorSettings(
            (await herald.App.GetConnectionStringAsync("herald"))!,
            (await herald.App.GetConnectionStringAsync("kafka"))!,
            Topic,
            receiver.Url);
        // As many partitions and replicas as Herald's topics.
        herald.App.Services.GetRequiredService<KafkaMockCluster>().CreateTopic(Topic, Herald.Kafka.Topics.Messages.Partitions, replicationFactor: 3);
        await FloorProcess.CreateSchemaAsync(settings.Postgres);
        var api = await FloorProcess.StartAsync(FloorApi.Command, settings);
        var processor = await FloorProcess.StartAsync(FloorProcessor.Command, settings);
        return new FloorTarget(api, processor, endpoints);
    }

    public override IReadOnlyList<string> Programs { get; } = [CpuUse.FloorApi, CpuUse.FloorProcessor, CpuUse.Postgres, CpuUse.Benchmark];

    public override HttpClient CreateClient() =>
        new(new SocketsHttpHandler { MaxConnectionsPerServer = 256, PooledConnectionLifetime = Timeout.InfiniteTimeSpan }) { BaseAddress = _api.Url };

    public override HttpRequestMessage CreateMessage(int index) =>
        new(HttpMethod.Post, $"/messages?endpoint={index % Endpoints}") { Content = Json(Payload) };

    public override async Task StopProcessingAsync()
    {
        if (_processor is null) return;
        await _processor.DisposeAsync();
        _processor = null;
    }

    public async ValueTask DisposeAsync()
    {
        await StopProcessingAsync();
        await _api.DisposeAsync();
    }
}
