using Herald.AppHost.Infrastructure.Health;
using Herald.Kafka;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Herald.AppHost.Infrastructure.Local;

/// <summary>A Kafka-protocol cluster hosted in the AppHost process (<see cref="KafkaMockCluster"/>).</summary>
public sealed class EmbeddedKafkaResource(string name, int brokers) : Resource(name), IResourceWithConnectionString
{
    private readonly BootstrapServers _bootstrapServers = new(name);

    public int Brokers { get; } = brokers;

    public ReferenceExpression ConnectionStringExpression => ReferenceExpression.Create($"{_bootstrapServers}");

    internal void Started(string bootstrapServers) => _bootstrapServers.Set(bootstrapServers);

    /// <summary>The broker addresses, known only once the cluster has bound its ports.</summary>
    private sealed class BootstrapServers(string resourceName) : IValueProvider, IManifestExpressionProvider
    {
        private readonly TaskCompletionSource<string> _value = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public string ValueExpression => $"{{{resourceName}.connectionString}}";

        public void Set(string value) => _value.TrySetResult(value);

        public async ValueTask<string?> GetValueAsync(CancellationToken cancellationToken = default) =>
            await _value.Task.WaitAsync(cancellationToken);
    }
}

public static class EmbeddedKafkaExtensions
{
    /// <summary>fetch.wait.max.ms against the embedded brokers, which answer an empty fetch only when it expires (a real
    /// broker answers as soon as data arrives).</summary>
    public const int FetchWaitMs = 5;

    public static IResourceBuilder<EmbeddedKafkaResource> AddEmbeddedKafka(this IDistributedApplicationBuilder builder, string name,
        int brokers, IEnumerable<TopicSpec> topics)
    {
        var kafka = new EmbeddedKafkaResource(name, brokers);
        var topicList = topics.ToList();

        // One cluster per AppHost; the container disposes it (cluster before handle) when the AppHost stops.
        builder.Services.AddSingleton(_ => new KafkaMockCluster(brokers));

        builder.Eventing.Subscribe<InitializeResourceEvent>(kafka, async (@event, ct) =>
        {
            var logger = @event.Logger;
            await @event.Notifications.PublishUpdateAsync(kafka, state => state with { State = KnownResourceStates.Starting });

            var cluster = @event.Services.GetRequiredService<KafkaMockCluster>();
            foreach (var topic in topicList)
            {
                cluster.CreateTopic(topic.Name, topic.Partitions, replicationFactor: Math.Min(3, brokers));
            }
            // Explicit, so that a broker taken down hands its groups to another (see KafkaMockCluster.SetBrokerDown).
            for (var i = 0; i < ConsumerGroupNames.All.Count; i++) cluster.AssignCoordinator(ConsumerGroupNames.All[i], i % brokers + 1);
            kafka.Started(cluster.BootstrapServers);
            logger.LogInformation("Embedded Kafka: {Brokers} brokers at {BootstrapServers}; topics {Topics}",
                brokers, cluster.BootstrapServers, string.Join(", ", topicList.Select(t => $"{t.Name} ({t.Partitions} partitions)")));

            await @event.Eventing.PublishAsync(new ConnectionStringAvailableEvent(kafka, @event.Services), ct);
            await @event.Notifications.PublishUpdateAsync(kafka, state => state with
            {
                State = KnownResourceStates.Running,
                StartTimeStamp = DateTime.UtcNow,
                Properties = [.. state.Properties, new("kafka.bootstrap", cluster.BootstrapServers), new("kafka.brokers", brokers)],
            });
        });

        return builder.AddResource(kafka)
            .WithInitialState(new CustomResourceSnapshot
            {
                ResourceType = "EmbeddedKafka",
                State = KnownResourceStates.NotStarted,
                Properties = [],
            })
            .WithKafkaHealthCheck()
            .ExcludeFromManifest();
    }

    /// <summary>The consumer settings a service needs against the embedded brokers; none against any other Kafka.</summary>
    public static IResourceBuilder<ProjectResource> WithEmbeddedKafkaConsumerSettings(this IResourceBuilder<ProjectResource> project,
        IResourceBuilder<IResourceWithConnectionString> kafka)
    {
        if (kafka.Resource is not EmbeddedKafkaResource) return project;
        // Against librdkafka's mock brokers the default fetch.wait.max.ms (500) put hundreds of milliseconds on each
        // Kafka hop (measured: webhook p50 664 ms at 100 msg/s, 41 ms with 10, 31 ms with 5; 2 polls more for no gain).
        // A user's Kafka:Consumer:fetch.wait.max.ms is forwarded after this and wins.
        project.WithEnvironment("Kafka__Consumer__fetch.wait.max.ms", FetchWaitMs.ToString(System.Globalization.CultureInfo.InvariantCulture));
        // The embedded broker's group coordinator waits session.timeout.ms − 1 s for members to rejoin on every
        // rebalance, even once all have (a real broker moves on as soon as they do), and a cooperative rebalance
        // takes two rounds, during which the partitions that move have no owner: with the 45 s default a replica
        // joining or dying stalled half the partitions for ~90 s. 3 s makes a round 2 s.
        project.WithEnvironment("Kafka__Consumer__session.timeout.ms", "3000");
        return project.WithEnvironment("Kafka__Consumer__heartbeat.interval.ms", "500");
    }
}
