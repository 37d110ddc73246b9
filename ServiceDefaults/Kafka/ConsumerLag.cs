using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using System.Text.Json;
using Confluent.Kafka;

namespace Herald.ServiceDefaults.Kafka;

/// <summary>
/// The gauge <c>herald.kafka.consumer.lag</c>: per consumer group and assigned partition, the records between the
/// partition's end and the group's position there (its stored offset, else its committed one) — work this process
/// has taken on but not finished, plus work not yet fetched. Taken from librdkafka's statistics, which it emits on the
/// consumer's own polling thread (no call races the consumer's disposal) and keeps current with its own offset
/// queries even while a partition is paused.
/// </summary>
public sealed class ConsumerLag
{
    public const string MeterName = "Herald.Kafka";

    private readonly ConcurrentDictionary<string, Measurement<long>[]> _byGroup = new(StringComparer.Ordinal);

    public ConsumerLag(IMeterFactory meters)
    {
        var meter = meters.Create(MeterName);
        meter.CreateObservableGauge("herald.kafka.consumer.lag", () => _byGroup.Values.SelectMany(partitions => partitions), "{record}",
            "Records in an assigned partition past the consumer group's stored (else committed) offset.");
    }

    /// <summary>Reports the lag of the consumer <paramref name="builder"/> builds (its configuration must set
    /// <c>statistics.interval.ms</c>, as <see cref="KafkaConnection.ConsumerConfig"/> does).</summary>
    public ConsumerBuilder<TKey, TValue> Observe<TKey, TValue>(ConsumerBuilder<TKey, TValue> builder, string groupId) =>
        builder.SetStatisticsHandler((_, statistics) => Update(groupId, statistics));

    /// <summary>Stops reporting a group whose consumer has closed.</summary>
    public void Forget(string groupId) => _byGroup.TryRemove(groupId, out _);

    public void Update(string groupId, string statistics)
    {
        var measurements = new List<Measurement<long>>();
        using (var document = JsonDocument.Parse(statistics))
        {
            if (!document.RootElement.TryGetProperty("topics", out var topics)) return;
            foreach (var topic in topics.EnumerateObject())
            {
                if (!topic.Value.TryGetProperty("partitions", out var partitions)) continue;
                foreach (var entry in partitions.EnumerateObject())
                {
                    if (Lag(entry.Value) is not { } lag) continue;
                    measurements.Add(new Measurement<long>(lag,
                        new("consumer_group", groupId), new("topic", topic.Name), new("partition", entry.Value.GetProperty("partition").GetInt32())));
                }
            }
        }
        _byGroup[groupId] = [.. measurements];
    }

    private static long? Lag(JsonElement partition)
    {
        // -1 is librdkafka's internal "unassigned" partition; desired=false means not assigned to this member.
        if (partition.GetProperty("partition").GetInt32() < 0) return null;
        if (partition.TryGetProperty("desired", out var desired) && !desired.GetBoolean()) return null;
        // The last stable offset under read_committed (librdkafka's default), the high watermark otherwise.
        var end = Math.Max(Offset(partition, "ls_offset"), Offset(partition, "hi_offset"));
        var position = Math.Max(Offset(partition, "stored_offset"), Offset(partition, "committed_offset"));
        // A group that never committed here starts at the beginning (auto.offset.reset=earliest).
        if (position < 0) position = Offset(partition, "lo_offset");
        if (end < 0 || position < 0) return null;
        return Math.Max(0, end - position);
    }

    // Absent or invalid (librdkafka's -1001) reads as -1.
    private static long Offset(JsonElement partition, string name) =>
        partition.TryGetProperty(name, out var value) && value.TryGetInt64(out var offset) && offset >= 0 ? offset : -1;
}
