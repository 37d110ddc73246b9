using Herald.AppHost.Infrastructure.Kafka;
using Herald.AppHost.Infrastructure.Local;
using Herald.AppHost.Infrastructure.Publishing;
using Herald.Kafka;
using Microsoft.Extensions.Configuration;

namespace Herald.AppHost.Infrastructure;

/// <summary>
/// The three resources every Herald service uses. Their names are the contract the services see
/// (<c>ConnectionStrings__herald</c>, <c>__redis</c>, <c>__kafka</c>) and are the same in every mode.
/// </summary>
public sealed record HeraldInfrastructure(
    InfrastructureMode Mode,
    IResourceBuilder<IResourceWithConnectionString> Database,
    IResourceBuilder<IResourceWithConnectionString> Redis,
    IResourceBuilder<IResourceWithConnectionString> Kafka);

public static class HeraldInfrastructureExtensions
{
    public const string DatabaseName = "herald";
    public const string RedisName = "redis";
    public const string KafkaName = "kafka";

    /// <summary>fetch.wait.max.ms against the embedded brokers, which answer an empty fetch only when it expires (a real
    /// broker answers as soon as data arrives).</summary>
    public const int EmbeddedFetchWaitMs = 5;

    public static HeraldInfrastructure AddHeraldInfrastructure(this IDistributedApplicationBuilder builder)
    {
        var mode = InfrastructureModes.Detect(builder);
        Console.WriteLine($"Herald infrastructure: {mode.Mode} ({mode.Reason})");

        return new HeraldInfrastructure(
            mode.Mode,
            External(builder, DatabaseName) ?? Database(builder, mode.Mode),
            External(builder, RedisName) ?? Redis(builder, mode.Mode),
            External(builder, KafkaName) ?? Kafka(builder, mode.Mode));
    }

    public static IResourceBuilder<ProjectResource> WithHeraldInfrastructure(this IResourceBuilder<ProjectResource> project, HeraldInfrastructure infrastructure)
    {
        // The services read only ConnectionStrings__<name>. Aspire would also inject each connection's parts
        // (HERALD_HOST, REDIS_URI, …); the URIs carry the passwords URI-encoded, which the manifest can only write as
        // `annotated.string` resources that azd and aspirate do not understand. Everything else is injected as usual.
        project.WithReferenceEnvironment(ReferenceEnvironmentInjectionFlags.All & ~ReferenceEnvironmentInjectionFlags.ConnectionProperties);
        foreach (var resource in new[] { infrastructure.Database, infrastructure.Redis, infrastructure.Kafka })
        {
            project.WithReference(resource).WaitFor(resource);
        }
        // Against librdkafka's mock brokers the default fetch.wait.max.ms (500) put hundreds of milliseconds on each
        // Kafka hop (measured: webhook p50 664 ms at 100 msg/s, 41 ms with 10, 31 ms with 5; 2 polls more for no gain).
        // Local mode only; a user's Kafka:Consumer:fetch.wait.max.ms is forwarded after this and wins.
        if (infrastructure.Kafka.Resource is EmbeddedKafkaResource)
        {
            project.WithEnvironment("Kafka__Consumer__fetch.wait.max.ms", EmbeddedFetchWaitMs.ToString(System.Globalization.CultureInfo.InvariantCulture));
            // The embedded broker's group coordinator waits session.timeout.ms − 1 s for members to rejoin on every
            // rebalance, even once all have (a real broker moves on as soon as they do), and a cooperative rebalance
            // takes two rounds, during which the partitions that move have no owner: with the 45 s default a replica
            // joining or dying stalled half the partitions for ~90 s. 3 s makes a round 2 s.
            project.WithEnvironment("Kafka__Consumer__session.timeout.ms", "3000");
            project.WithEnvironment("Kafka__Consumer__heartbeat.interval.ms", "500");
        }
        return project;
    }

    // An existing server given as ConnectionStrings:<name> overrides whatever the mode would start.
    private static IResourceBuilder<IResourceWithConnectionString>? External(IDistributedApplicationBuilder builder, string name) =>
        string.IsNullOrWhiteSpace(builder.Configuration.GetConnectionString(name)) ? null : builder.AddConnectionString(name);

    private static IResourceBuilder<IResourceWithConnectionString> Database(IDistributedApplicationBuilder builder, InfrastructureMode mode)
    {
        var password = builder.AddParameter("postgres-password", new GenerateParameterDefault { MinLength = 22, Special = false }, secret: true, persist: true);
        return mode == InfrastructureMode.Containers
            ? builder.AddPostgres("postgres", password: password).WithDataVolume().AddDatabase(DatabaseName)
            : builder.AddLocalPostgres("postgres", password).AddDatabase(DatabaseName);
    }

    private static IResourceBuilder<IResourceWithConnectionString> Redis(IDistributedApplicationBuilder builder, InfrastructureMode mode)
    {
        var password = builder.AddParameter("redis-password", new GenerateParameterDefault { MinLength = 22, Special = false }, secret: true, persist: true);
        return mode == InfrastructureMode.Containers
            ? builder.AddRedis(RedisName, password: password).WithDataVolume().WithPlainConnectionStringWhenPublishing()
            : builder.AddLocalRedis(RedisName, password);
    }

    private static IResourceBuilder<IResourceWithConnectionString> Kafka(IDistributedApplicationBuilder builder, InfrastructureMode mode) =>
        mode == InfrastructureMode.Containers
            ? builder.AddKafkaContainer(KafkaName)
            : builder.AddEmbeddedKafka(KafkaName, brokers: 3, Topics.All);
}
