using System.Diagnostics;
using Herald.Bench.Cost;

namespace Herald.Bench.Delivery;

/// <summary>202 → arrival latencies of messages sent at a fixed rate: percentiles in ms, and counts.</summary>
public sealed record Latency(double P50, double P99, double Max, int Sent, int Accepted, int Arrived, int Late)
{
    /// <summary>The ids the 202s answered with.</summary>
    public IReadOnlyList<string> Ids { get; init; } = [];
}

public static class Arrivals
{
    /// <summary>Open loop (<see cref="Pacer"/>): message i is sent at start + i/rate whether or not earlier ones have
    /// been answered; each is timed from its 202 to its webhook's arrival, waiting up to 60 s for the last.</summary>
    public static async Task<Latency> MeasureAsync(Target target, Receiver receiver, int rate, TimeSpan duration)
    {
        using var http = target.CreateClient();
        receiver.Reset();
        var total = (int)(rate * duration.TotalSeconds);
        var accepted = new (string Id, long At)?[total];
        var sends = new List<Task>(total);
        var paced = await Pacer.RunAsync(rate, total, (index, _) => sends.Add(SendAsync(index)));
        await Task.WhenAll(sends);
        var ids = accepted.Select((a, index) => (Accepted: a, Endpoint: index % target.Endpoints))
            .Where(a => a.Accepted is not null).Select(a => (a.Accepted!.Value.Id, a.Accepted.Value.At, a.Endpoint)).ToList();
        var deadline = Stopwatch.StartNew();
        while (ids.Any(a => !receiver.Arrivals.ContainsKey(a.Id)) && deadline.Elapsed < TimeSpan.FromSeconds(60)) await Task.Delay(50);

        var timed = ids.Where(a => receiver.Arrivals.ContainsKey(a.Id))
            .Select(a => (Second: (int)Stopwatch.GetElapsedTime(paced.Start, a.At).TotalSeconds,
                          a.Endpoint,
                          Ms: Math.Max(0, Stopwatch.GetElapsedTime(a.At, receiver.Arrivals[a.Id]).TotalMilliseconds)))
            .ToList();
        // Where the slow ones are: spread out (queueing) or bunched in time or on one endpoint (a stall).
        var slow = timed.Where(t => t.Ms > 1000).ToList();
        if (slow.Count > 0)
            Console.WriteLine($"  {slow.Count} took over 1 s; by second sent: {string.Join(" ", slow.CountBy(t => t.Second).OrderBy(g => g.Key).Select(g => $"{g.Key}s:{g.Value}"))}; " +
                              $"by endpoint: {string.Join(" ", slow.CountBy(t => t.Endpoint).OrderBy(g => g.Key).Select(g => $"#{g.Key}:{g.Value}"))}");
        var latencies = timed.Select(t => t.Ms).Order().ToArray();
        var latency = latencies.Length == 0
            ? new Latency(double.NaN, double.NaN, double.NaN, total, ids.Count, 0, paced.Late)
            : new Latency(latencies[latencies.Length / 2], latencies[(int)(latencies.Length * 0.99)], latencies[^1], total, ids.Count, latencies.Length, paced.Late);
        return latency with { Ids = [.. ids.Select(a => a.Id)] };

        async Task SendAsync(int index) => accepted[index] = await target.SendAsync(http, index);
    }
}
