using System.Diagnostics;
using Herald.AppHost.Infrastructure.Containers;
using Herald.AppHost.Infrastructure.External;
using Herald.AppHost.Infrastructure.Local;
using Herald.Kafka;

namespace Herald.AppHost.Infrastructure;

/// <summary>
/// The three resources every Herald service uses. Their names are the contract the services see
/// (<c>ConnectionStrings__herald</c>, <c>__redis</c>, <c>__kafka</c>) and are the same in every mode.
/// </summary>
public sealed record HeraldInfrastructure(
    IResourceBuilder<IResourceWithConnectionString> Database,
    IResourceBuilder<IResourceWithConnectionString> Redis,
    IResourceBuilder<IResourceWithConnectionString> Kafka);

public static class HeraldInfrastructureExtensions
{
    public const string DatabaseName = "herald";
    public const string RedisName = "redis";
    public const string KafkaName = "kafka";

    private const string PostgresName = "postgres";

    public static HeraldInfrastructure AddHeraldInfrastructure(this IDistributedApplicationBuilder builder)
    {
        var mode = InfrastructureModes.Detect(builder);
        Console.WriteLine($"Herald infrastructure: {mode.Mode} ({mode.Reason})");

        // Factories, so that a resource an external server replaces is never added (nor its password parameter).
        var provided = mode.Mode switch
        {
            InfrastructureMode.Containers => new ModeResources(
                () => builder.AddContainerPostgres(PostgresName, DatabaseName, Password(builder, "postgres-password")),
                () => builder.AddContainerRedis(RedisName, Password(builder, "redis-password")),
                () => builder.AddKafkaContainer(KafkaName)),
            InfrastructureMode.Local => new ModeResources(
                () => builder.AddLocalPostgres(PostgresName, Password(builder, "postgres-password")).AddDatabase(DatabaseName),
                () => builder.AddLocalRedis(RedisName, Password(builder, "redis-password")),
                () => builder.AddEmbeddedKafka(KafkaName, brokers: 3, Topics.All)),
            _ => throw new UnreachableException($"No resources for infrastructure mode {mode.Mode}."),
        };

        return new HeraldInfrastructure(
            builder.AddExternalServer(DatabaseName) ?? provided.Database(),
            builder.AddExternalServer(RedisName) ?? provided.Redis(),
            builder.AddExternalServer(KafkaName) ?? provided.Kafka());
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
        return project.WithEmbeddedKafkaConsumerSettings(infrastructure.Kafka);
    }

    // A secret generated once and kept in the AppHost's user secrets, in every mode that runs the server.
    private static IResourceBuilder<ParameterResource> Password(IDistributedApplicationBuilder builder, string name) =>
        builder.AddParameter(name, new GenerateParameterDefault { MinLength = 22, Special = false }, secret: true, persist: true);

    /// <summary>What a mode runs for each resource.</summary>
    private sealed record ModeResources(
        Func<IResourceBuilder<IResourceWithConnectionString>> Database,
        Func<IResourceBuilder<IResourceWithConnectionString>> Redis,
        Func<IResourceBuilder<IResourceWithConnectionString>> Kafka);
}
