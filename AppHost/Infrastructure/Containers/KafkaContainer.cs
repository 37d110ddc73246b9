using Herald.AppHost.Infrastructure.Health;

namespace Herald.AppHost.Infrastructure.Containers;

/// <summary>
/// A single-node KRaft Kafka broker in the <c>confluentinc/confluent-local</c> image — the broker Aspire.Hosting.Kafka
/// would declare (that package is not available to us). One listener for the host (9092), one for other containers
/// (9093).
/// </summary>
public sealed class KafkaContainerResource(string name) : ContainerResource(name), IResourceWithConnectionString
{
    public const string PrimaryEndpointName = "tcp";
    public const string InternalEndpointName = "internal";

    public EndpointReference PrimaryEndpoint => new(this, PrimaryEndpointName);

    public EndpointReference InternalEndpoint => new(this, InternalEndpointName);

    public ReferenceExpression ConnectionStringExpression =>
        ReferenceExpression.Create($"{PrimaryEndpoint.Property(EndpointProperty.HostAndPort)}");
}

public static class KafkaContainerExtensions
{
    private const int HostPort = 9092;
    private const int InternalPort = 9093;
    private const string InternalPortText = "9093";

    // Where the broker keeps its log, on a volume so topics and committed offsets survive a restart (the path
    // Aspire.Hosting.Kafka's WithDataVolume uses for this image).
    private const string DataDirectory = "/var/lib/kafka/data";

    public static IResourceBuilder<KafkaContainerResource> AddKafkaContainer(this IDistributedApplicationBuilder builder, string name)
    {
        var kafka = new KafkaContainerResource(name);
        var resource = builder.AddResource(kafka);
        return resource
            .WithImage("confluentinc/confluent-local", "7.9.0")
            .WithImageRegistry("docker.io")
            .WithVolume(VolumeNameGenerator.Generate(resource, "data"), DataDirectory)
            .WithEndpoint(targetPort: HostPort, name: KafkaContainerResource.PrimaryEndpointName)
            .WithEndpoint(targetPort: InternalPort, name: KafkaContainerResource.InternalEndpointName)
            .WithEnvironment(context =>
            {
                // The image's defaults plus a listener other containers reach by the resource's name.
                context.EnvironmentVariables["KAFKA_LOG_DIRS"] = DataDirectory;
                context.EnvironmentVariables["KAFKA_LISTENERS"] =
                    $"PLAINTEXT://localhost:29092,CONTROLLER://localhost:29093,PLAINTEXT_HOST://0.0.0.0:{HostPort},PLAINTEXT_INTERNAL://0.0.0.0:{InternalPort}";
                context.EnvironmentVariables["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"] =
                    "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,PLAINTEXT_HOST:PLAINTEXT,PLAINTEXT_INTERNAL:PLAINTEXT";
                context.EnvironmentVariables["KAFKA_ADVERTISED_LISTENERS"] = context.ExecutionContext.IsRunMode
                    ? ReferenceExpression.Create(
                        $"PLAINTEXT://localhost:29092,PLAINTEXT_HOST://localhost:{kafka.PrimaryEndpoint.Property(EndpointProperty.Port)},PLAINTEXT_INTERNAL://{kafka.Name}:{InternalPortText}")
                    : ReferenceExpression.Create(
                        $"PLAINTEXT://{kafka.PrimaryEndpoint.Property(EndpointProperty.Host)}:29092,PLAINTEXT_HOST://{kafka.PrimaryEndpoint.Property(EndpointProperty.HostAndPort)},PLAINTEXT_INTERNAL://{kafka.InternalEndpoint.Property(EndpointProperty.HostAndPort)}");
            })
            .WithKafkaHealthCheck();
    }
}
