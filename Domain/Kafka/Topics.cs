namespace Herald.Kafka;

/// <summary>The Kafka topics Herald uses, with the partition counts it needs. One place, shared by every service
/// and by the AppHost that creates them on the embedded broker.</summary>
public static class Topics
{
    /// <summary>Committed messages, keyed by message id; the Processor's fan-out group reads it.</summary>
    public static readonly TopicSpec Messages = new("herald.messages", Partitions: 12);

    /// <summary>One record per attempt to make, keyed by endpoint id so one endpoint's work stays in order on one
    /// partition; the Processor's delivery group reads it.</summary>
    public static readonly TopicSpec Deliveries = new("herald.deliveries", Partitions: 12);

    public static IReadOnlyList<TopicSpec> All { get; } = [Messages, Deliveries];
}

/// <summary>The consumer groups the Processor consumes as.</summary>
public static class ConsumerGroupNames
{
    /// <summary>Reads <see cref="Topics.Messages"/>: messages → deliveries.</summary>
    public const string Fanout = "herald-fanout";

    /// <summary>Reads <see cref="Topics.Deliveries"/>: tasks → attempts.</summary>
    public const string Delivery = "herald-delivery";

    public static IReadOnlyList<string> All { get; } = [Fanout, Delivery];
}

public sealed record TopicSpec(string Name, int Partitions);
