namespace Herald.Processor.Fanout;

/// <summary>Configuration section <c>Herald:Fanout</c>.</summary>
public sealed class FanoutOptions
{
    public const string Section = "Herald:Fanout";

    /// <summary>How often a Processor sweeps for published messages that were never fanned out.</summary>
    public TimeSpan SweepInterval { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>A message published longer ago than this with no delivery is swept: far beyond fan-out's normal lag
    /// of milliseconds, so the sweep only redoes what Kafka lost.</summary>
    public TimeSpan SweepGrace { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>Messages looked at per statement.</summary>
    public int SweepBatchSize { get; set; } = 5000;
}
