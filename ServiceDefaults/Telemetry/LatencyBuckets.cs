namespace Herald.ServiceDefaults.Telemetry;

/// <summary>Histogram bucket boundaries in seconds. The SDK's defaults (0–10 000, meant for milliseconds) and ASP.NET
/// Core's advice (5 ms–10 s) cannot tell a 1 ms answer from a 4 ms one nor a 15 s timeout from a 30 s one.</summary>
public static class LatencyBuckets
{
    /// <summary>1 ms … 30 s: requests, queries, webhook sends (whose timeout defaults to 15 s).</summary>
    public static IReadOnlyList<double> Seconds { get; } =
        [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 15, 30];

    /// <summary><see cref="Seconds"/> and on to a day: end-to-end lag, where a delivery that needed retries arrives
    /// minutes or hours after its message was created.</summary>
    public static IReadOnlyList<double> Lag { get; } =
        [.. Seconds, 60, 300, 1800, 3600, 4 * 3600, 12 * 3600, 24 * 3600];
}
