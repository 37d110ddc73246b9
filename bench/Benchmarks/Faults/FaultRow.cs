using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Serialization;

namespace Herald.Bench.Faults;

/// <summary>One row of the matrix, as printed and as written to JSON (keys are the column names).</summary>
public sealed record FaultRow
{
    [JsonPropertyName("fault")] public required string Fault { get; init; }
    [JsonPropertyName("sent")] public int Sent { get; init; }
    [JsonPropertyName("202")] public int Accepted { get; init; }
    [JsonPropertyName("refused (by status)")] public IReadOnlyDictionary<string, int> Refused { get; init; } = new Dictionary<string, int>();
    [JsonPropertyName("delivered (distinct webhook-id)")] public int Delivered { get; init; }
    [JsonPropertyName("lost")] public int Lost { get; init; }
    [JsonPropertyName("duplicated")] public int Duplicated { get; init; }
    [JsonPropertyName("late > 10 s")] public int Late { get; init; }
    [JsonPropertyName("recovery (s)")] public double Recovery { get; init; }
    [JsonPropertyName("recovery is a lower bound")] public bool RecoveryIsLowerBound { get; init; }
    [JsonPropertyName("API ready throughout")] public bool? ApiReadyThroughout { get; init; }
    [JsonPropertyName("create-message requests in window")] public int WindowRequests { get; init; }
    [JsonPropertyName("create-message p50 (ms)")] public double? CreateP50 { get; init; }
    [JsonPropertyName("create-message p99 (ms)")] public double? CreateP99 { get; init; }
    [JsonPropertyName("create-message max (ms)")] public double? CreateMax { get; init; }
    [JsonPropertyName("fault window (s)")] public double Window { get; init; }
    [JsonPropertyName("API unready (s)")] public double ApiUnready { get; init; }
    [JsonPropertyName("API readiness polls")] public IReadOnlyDictionary<string, int> ApiPolls { get; init; } = new Dictionary<string, int>();
    [JsonPropertyName("lost deliveries")] public int LostDeliveries { get; init; }
    [JsonPropertyName("delivered without a 202")] public int DeliveredWithout202 { get; init; }
    [JsonPropertyName("receiver 5xx answers")] public int ReceiverFailures { get; init; }
    [JsonPropertyName("receiver slow answers")] public int ReceiverSlow { get; init; }
    [JsonPropertyName("baseline delivery p99 (ms)")] public double? BaselineP99 { get; init; }
    [JsonPropertyName("normal delivery latency up to (ms)")] public double NormalUpTo { get; init; }
    [JsonPropertyName("settled")] public bool Settled { get; init; }
    [JsonPropertyName("settle (s)")] public double Settle { get; init; }
    [JsonPropertyName("notes")] public IReadOnlyList<string> Notes { get; init; } = [];
    [JsonPropertyName("error")] public string? Error { get; init; }
}

/// <summary>What one row observed, and how it is turned into a <see cref="FaultRow"/>.</summary>
/// <param name="WindowEnd">The end of the fault window: the heal, or the stream's end for a fault that persists.</param>
/// <param name="RecoveryFrom">When recovery starts counting: the heal, or the injection for a fault that persists.</param>
/// <param name="BaselineFrom">Deliveries of messages due from here to the injection set what "normal" latency is
/// (the stream's first seconds, with every process still compiling its hot paths, do not).</param>
/// <param name="EndedAt">When the row stopped waiting for deliveries.</param>
public sealed record RowObservation(
    string Fault,
    IReadOnlyList<CreateMessage> Requests,
    StreamDeliveries Deliveries,
    IReadOnlyList<ReadinessPoll> Polls,
    long InjectedAt,
    long WindowEnd,
    long RecoveryFrom,
    long BaselineFrom,
    long EndedAt,
    bool Settled,
    TimeSpan Settle,
    IReadOnlyList<string> Notes)
{
    /// <summary>A delivery counts as late past this.</summary>
    public static readonly TimeSpan LateAfter = TimeSpan.FromSeconds(10);

    public FaultRow ToRow()
    {
        var accepted = Requests.Where(r => r.Accepted).ToList();
        var deliveries = Deliveries.Of(accepted).ToList();
        var delivered = deliveries.Where(d => d.Seen is { Successes: > 0 })
            .Select(d => (d.Request, d.Seen!.FirstSuccessAt, Latency: StreamDeliveries.LatencyMs(d.Request, d.Seen)!.Value))
            .ToList();
        var lostMessages = deliveries.Where(d => d.Seen is not { Successes: > 0 }).Select(d => d.Request.MessageId).Distinct().Count();

        var baselineP99 = Deliveries.BaselineP99(Requests, BaselineFrom, InjectedAt);
        var normal = StreamDeliveries.NormalMs(baselineP99);
        var abnormal = delivered.Where(d => d.Latency > normal).ToList();
        var lastAbnormal = abnormal.Where(d => d.FirstSuccessAt > RecoveryFrom).Select(d => d.FirstSuccessAt).DefaultIfEmpty(RecoveryFrom).Max();
        var lastDue = Requests.Count > 0 ? Requests[^1].DueAt : 0;
        var streamTail = lastDue - Stopwatch.Frequency;

        var window = Requests.Where(r => r.DueAt >= InjectedAt && r.DueAt <= WindowEnd && (r.Status != 0 || r.Failure == TransportFailure.Timeout))
            .Select(r => r.Latency.TotalMilliseconds).Order().ToList();
        var polls = Polls.Select((p, i) => (Poll: p, Until: i + 1 < Polls.Count ? Polls[i + 1].At : p.At + (long)(ReadinessProbe.Interval.TotalSeconds * Stopwatch.Frequency)))
            .Where(p => p.Poll.At >= InjectedAt && p.Poll.At <= WindowEnd).ToList();
        var accepted202 = accepted.Select(r => r.MessageId!).ToHashSet(StringComparer.Ordinal);
        var seen = Deliveries.Log.Deliveries;

        return new FaultRow
        {
            Fault = Fault,
            Sent = Requests.Count,
            Accepted = accepted.Count,
            Refused = Requests.Where(r => !r.Accepted).CountBy(RefusalOf).OrderByDescending(g => g.Value).ToDictionary(g => g.Key, g => g.Value),
            Delivered = accepted.Count - lostMessages,
            Lost = lostMessages,
            Duplicated = seen.Values.Count(d => d.Successes > 1),
            Late = delivered.Count(d => d.Latency > LateAfter.TotalMilliseconds),
            // Not recovered while deliveries are still missing: at least until the row ended.
            Recovery = Stopwatch.GetElapsedTime(RecoveryFrom, lostMessages > 0 ? EndedAt : lastAbnormal).TotalSeconds,
            RecoveryIsLowerBound = lostMessages > 0 || abnormal.Any(d => d.Request.DueAt >= streamTail),
            ApiReadyThroughout = polls.Count == 0 ? null : polls.All(p => p.Poll.Ready),
            WindowRequests = window.Count,
            CreateP50 = window.Count > 0 ? StreamDeliveries.Percentile(window, 0.5) : null,
            CreateP99 = window.Count > 0 ? StreamDeliveries.Percentile(window, 0.99) : null,
            CreateMax = window.Count > 0 ? window[^1] : null,
            Window = Stopwatch.GetElapsedTime(InjectedAt, WindowEnd).TotalSeconds,
            ApiUnready = polls.Where(p => !p.Poll.Ready).Sum(p => Stopwatch.GetElapsedTime(p.Poll.At, p.Until).TotalSeconds),
            ApiPolls = polls.CountBy(p => p.Poll.Outcome).OrderByDescending(g => g.Value).ToDictionary(g => g.Key, g => g.Value),
            LostDeliveries = deliveries.Count - delivered.Count,
            DeliveredWithout202 = seen.Where(d => d.Value.Successes > 0 && !accepted202.Contains(d.Key.MessageId)).Select(d => d.Key.MessageId).Distinct().Count(),
            ReceiverFailures = seen.Values.Sum(d => d.Failures),
            ReceiverSlow = seen.Values.Sum(d => d.Slow),
            BaselineP99 = baselineP99,
            NormalUpTo = normal,
            Settled = Settled,
            Settle = Settle.TotalSeconds,
            Notes = Notes,
        };
    }

    /// <summary>The row second by second, by when requests were due (seconds from the injection): what the client
    /// got, how late those messages' deliveries were, and the API's readiness. For reading a row, not for the table.</summary>
    public async Task WriteTimelineAsync(string path)
    {
        var accepted = Requests.Where(r => r.Accepted).ToList();
        var lines = new List<string> { "second,phase,sent,202,refused,create p50 ms,create max ms,deliveries,missing,delivery p50 ms,delivery p99 ms,delivery max ms,first 2xx arrived,readyz polls,readyz not 200" };
        int SecondOf(long at) => (int)Math.Floor((at - InjectedAt) / (double)Stopwatch.Frequency);
        var requests = Requests.ToLookup(r => SecondOf(r.DueAt));
        var polls = Polls.ToLookup(p => SecondOf(p.At));
        var arrivals = Deliveries.Log.Deliveries.Values.Where(d => d.Successes > 0).ToLookup(d => SecondOf(d.FirstSuccessAt));
        var first = Requests.Count > 0 ? SecondOf(Requests[0].DueAt) : 0;
        var last = SecondOf(EndedAt);
        for (var second = first; second <= last; second++)
        {
            var sent = requests[second].ToList();
            var created = sent.Where(r => r.Status != 0).Select(r => r.Latency.TotalMilliseconds).Order().ToList();
            var seen = Deliveries.Of(sent).ToList();
            var latencies = seen.Select(d => StreamDeliveries.LatencyMs(d.Request, d.Seen)).OfType<double>().Order().ToList();
            var at = InjectedAt + second * Stopwatch.Frequency;
            var phase = at < InjectedAt ? "before" : at < WindowEnd ? "fault" : "after";
            lines.Add(string.Join(",",
                second, phase, sent.Count, sent.Count(r => r.Accepted), sent.Count(r => !r.Accepted),
                Ms(created, 0.5), Ms(created, 1), seen.Count, seen.Count - latencies.Count,
                Ms(latencies, 0.5), Ms(latencies, 0.99), Ms(latencies, 1), arrivals[second].Count(),
                polls[second].Count(), polls[second].Count(p => !p.Ready)));
        }
        await File.WriteAllLinesAsync(path, lines);

        static string Ms(List<double> sorted, double quantile) =>
            sorted.Count == 0 ? "" : StreamDeliveries.Percentile(sorted, quantile).ToString("0", CultureInfo.InvariantCulture);
    }

    private static string RefusalOf(CreateMessage request) => request.Failure switch
    {
        TransportFailure.ConnectionRefused => "connection-refused",
        TransportFailure.Broken => "broken",
        TransportFailure.Timeout => "timeout",
        _ => request.Status.ToString(CultureInfo.InvariantCulture),
    };
}
