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
