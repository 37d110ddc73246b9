using System.Collections.Concurrent;
using System.Diagnostics;
using Herald.Bench.Delivery;

namespace Herald.Bench.Faults;

/// <summary>What one endpoint saw of one message.</summary>
public sealed class EndpointDelivery
{
    /// <summary>When its first success (2xx answered in time) arrived; 0 before that.</summary>
    public long FirstSuccessAt { get; set; }

    public int Successes { get; set; }

    /// <summary>Answered with a non-2xx status.</summary>
    public int Failures { get; set; }

    /// <summary>Answered only after the sender's request timeout: the sender gave up, so it is not a delivery.</summary>
    public int Slow { get; set; }
}

/// <summary>Every webhook the receiver answered during one row, by (endpoint path, webhook-id).</summary>
public sealed class DeliveryLog
{
    private readonly ConcurrentDictionary<(string Path, string MessageId), EndpointDelivery> _deliveries = new();
    private long _lastArrivalAt;

    public IReadOnlyDictionary<(string Path, string MessageId), EndpointDelivery> Deliveries => _deliveries;

    /// <summary>When the latest webhook arrived (Stopwatch timestamp); 0 before the first.</summary>
    public long LastArrivalAt => Interlocked.Read(ref _lastArrivalAt);

    public void Note(Webhook webhook)
    {
        var delivery = _deliveries.GetOrAdd((webhook.Path, webhook.MessageId), _ => new EndpointDelivery());
        lock (delivery)
        {
            // The receiver's deliberately slow answers are the only ones that come after the sender's timeout.
            if (webhook.Reply.Delay > TimeSpan.Zero)
            {
                delivery.Slow++;
            }
            else if (webhook.Reply.Status is >= 200 and < 300)
            {
                if (delivery.Successes++ == 0) delivery.FirstSuccessAt = webhook.ArrivedAt;
            }
            else
            {
                delivery.Failures++;
            }
        }
        Interlocked.Exchange(ref _lastArrivalAt, Stopwatch.GetTimestamp());
    }

    public EndpointDelivery? Find(string path, string messageId) => _deliveries.GetValueOrDefault((path, messageId));
}

/// <summary>The stream's messages as their endpoints saw them: a message goes to every endpoint of its application.</summary>
/// <param name="Endpoints">The endpoint paths of each application, by application index.</param>
public sealed record StreamDeliveries(DeliveryLog Log, IReadOnlyList<IReadOnlyList<string>> Endpoints)
{
    /// <summary>The floor of "normal" delivery latency, and its multiple of the pre-fault p99.</summary>
    public static readonly TimeSpan NormalFloor = TimeSpan.FromSeconds(1);

    public const double NormalMultiple = 3;

    /// <summary>Every accepted request × every endpoint of its application, with what that endpoint saw of it.</summary>
    public IEnumerable<(CreateMessage Request, EndpointDelivery? Seen)> Of(IEnumerable<CreateMessage> requests) =>
        requests.Where(r => r.Accepted).SelectMany(r => Endpoints[r.Application].Select(path => (r, Log.Find(path, r.MessageId!))));

    /// <summary>From the client's 202 to the first 2xx at the endpoint (an endpoint may hear of a message before the
    /// client does: 0 then); null while not delivered.</summary>
    public static double? LatencyMs(CreateMessage request, EndpointDelivery? seen) =>
        seen is { Successes: > 0 } ? Math.Max(0, Stopwatch.GetElapsedTime(request.EndedAt, seen.FirstSuccessAt).TotalMilliseconds) : null;

    /// <summary>The p99 latency of the deliveries of messages due from <paramref name="from"/> that were delivered
    /// before <paramref name="to"/> (the fault): what "normal" was. A message the fault caught on its way does not count.</summary>
    public double? BaselineP99(IEnumerable<CreateMessage> requests, long from, long to)
    {
        var latencies = Of(requests.Where(r => r.DueAt >= from && r.DueAt < to))
            .Where(d => d.Seen is { Successes: > 0 } && d.Seen.FirstSuccessAt < to)
            .Select(d => LatencyMs(d.Request, d.Seen)).OfType<double>().Order().ToList();
        return latencies.Count > 0 ? Percentile(latencies, 0.99) : null;
    }

    /// <summary>The value below which <paramref name="quantile"/> of the sorted values lie.</summary>
    public static double Percentile(IReadOnlyList<double> sorted, double quantile) => sorted[Math.Min(sorted.Count - 1, (int)(sorted.Count * quantile))];

    /// <summary>How slow a delivery may be and still count as normal, given the p99 before the fault.</summary>
    public static double NormalMs(double? baselineP99) => Math.Max(NormalFloor.TotalMilliseconds, NormalMultiple * (baselineP99 ?? 0));

    /// <summary>Whether the messages accepted in [<paramref name="from"/>, <paramref name="to"/>) (some at least) all
    /// reached every endpoint within <paramref name="normalMs"/>.</summary>
    public bool AllNormal(IEnumerable<CreateMessage> requests, double normalMs, long from, long to)
    {
        var recent = Of(requests.Where(r => r.EndedAt >= from && r.EndedAt < to)).ToList();
        return recent.Count > 0 && recent.All(d => LatencyMs(d.Request, d.Seen) <= normalMs);
    }
}
