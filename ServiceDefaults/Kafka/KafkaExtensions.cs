using Confluent.Kafka;
using Confluent.Kafka.Admin;
using Herald.ServiceDefaults.Health;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Herald.ServiceDefaults.Kafka;

/// <summary>
/// The Kafka client integration (Aspire.Confluent.Kafka is not available to us): the broker address from
/// <c>ConnectionStrings:kafka</c>, a readiness check, a shared producer, consumer configuration and topic creation.
/// Any librdkafka property can be set under <c>Kafka:Producer</c> or <c>Kafka:Consumer</c>.
/// </summary>
public static class KafkaExtensions
{
    public const string ConnectionName = "kafka";

    /// <param name="role">Whether the service can serve without Kafka (the API can: its outbox keeps what it accepts).</param>
    public static void AddKafka(this IHostApplicationBuilder builder, DependencyRole role, params IReadOnlyList<TopicSpecification> topics)
    {
        var bootstrapServers = builder.Configuration.GetConnectionString(ConnectionName);
        if (string.IsNullOrWhiteSpace(bootstrapServers))
        {
            throw new InvalidOperationException(
                $"ConnectionStrings:{ConnectionName} is not set. Run Herald through the AppHost, or give the Kafka bootstrap servers in configuration.");
        }

        var connection = new KafkaConnection(bootstrapServers, builder.Environment.ApplicationName, builder.Configuration.GetSection("Kafka"));
        builder.Services.AddSingleton(connection);
        builder.Services.AddSingleton(sp => new AdminClientBuilder(connection.ClientConfig())
            .SetLogHandler(LogTo(sp.GetRequiredService<ILoggerFactory>()))
            .Build());
        // A broker answering a metadata request for Herald's topics: one of three brokers down still serves.
        builder.AddDependency(Dependencies.Kafka, role, (services, cancellationToken) => KafkaProbe.MetadataAsync(
            services.GetRequiredService<IAdminClient>(), topics.Count > 0 ? topics[0].Name : "__consumer_offsets", DependencyExtensions.ProbeTimeout, cancellationToken));
        builder.Services.AddSingleton(new KafkaTopicSet(topics));
        builder.Services.AddSingleton<ConsumerLag>();
        builder.Services.AddHostedService<KafkaTopicInitializer>();
    }

    /// <summary>One producer per process (it is thread-safe and batches): idempotent, acknowledged by all in-sync replicas.</summary>
    /// <param name="defaults">The service's own defaults, applied before any <c>Kafka:Producer</c> setting.</param>
    public static void AddKafkaProducer(this IHostApplicationBuilder builder, Action<ProducerConfig>? defaults = null)
    {
        builder.Services.AddSingleton(sp =>
        {
            var connection = sp.GetRequiredService<KafkaConnection>();
            var logger = sp.GetRequiredService<ILoggerFactory>();
            return new ProducerBuilder<string, byte[]>(connection.ProducerConfig(defaults))
                .SetLogHandler(LogTo(logger))
                .SetErrorHandler((_, error) => logger.CreateLogger("Herald.Kafka").LogWarning("Kafka producer: {Reason}", error.Reason))
                .Build();
        });
    }

    internal static Action<IClient, LogMessage> LogTo(ILoggerFactory loggers)
    {
        var logger = loggers.CreateLogger("Herald.Kafka");
        return (_, message) => logger.Log(
            message.Level switch
            {
                SyslogLevel.Emergency or SyslogLevel.Alert or SyslogLevel.Critical or SyslogLevel.Error => LogLevel.Error,
                SyslogLevel.Warning => LogLevel.Warning,
                SyslogLevel.Notice or SyslogLevel.Info => LogLevel.Information,
                _ => LogLevel.Debug,
            },
            "librdkafka {Facility}: {Message}", message.Facility, message.Message);
    }
}

/// <summary>Where the brokers are, and the client settings every Herald client starts from.</summary>
public sealed class KafkaConnection(string bootstrapServers, string clientId, IConfiguration overrides)
{
    public string BootstrapServers { get; } = bootstrapServers;

    public ClientConfig ClientConfig() => new() { BootstrapServers = BootstrapServers, ClientId = clientId };

    public ProducerConfig ProducerConfig(Action<ProducerConfig>? defaults = null)
    {
        var config = new ProducerConfig(ClientConfig())
        {
            // No acknowledged record may be lost or duplicated by the producer itself.
            EnableIdempotence = true,
            Acks = Acks.All,
            // A short linger batches concurrent requests without adding visible latency.
            LingerMs = 2,
        };
        defaults?.Invoke(config);
        return Apply(config, "Producer");
    }

    public ConsumerConfig ConsumerConfig(string groupId) => Apply(new ConsumerConfig(ClientConfig())
    {
        GroupId = groupId,
        // At-least-once: offsets are stored by the application only after the work is durably recorded.
        EnableAutoOffsetStore = false,
        EnableAutoCommit = true,
        AutoOffsetReset = AutoOffsetReset.Earliest,
        PartitionAssignmentStrategy = PartitionAssignmentStrategy.CooperativeSticky,
        // Feeds ConsumerLag; the statistics are parsed only by consumers that register a handler.
        StatisticsIntervalMs = 5000,
        // A dead member's partitions move after the session times out: 10 s rather than librdkafka's 45 s, so a crashed
        // replica delays its endpoints' deliveries by seconds. (Real brokers refuse less than 6 s by default.)
        SessionTimeoutMs = 10_000,
        HeartbeatIntervalMs = 2_000,
    }, "Consumer");

    private T Apply<T>(T config, string section) where T : ClientConfig
    {
        foreach (var setting in overrides.GetSection(section).AsEnumerable(makePathsRelative: true))
        {
            if (setting.Value is not null) config.Set(setting.Key, setting.Value);
        }
        return config;
    }
}
