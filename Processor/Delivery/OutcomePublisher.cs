using Herald.Deliveries;
using Herald.ServiceDefaults.Redis;

namespace Herald.Processor.Delivery;

/// <summary>Announces each recorded attempt on Redis (<see cref="DeliveryOutcome.Channel"/>), from where every API replica
/// streams it to the application's watchers. Fire and forget: live outcomes are a view; the ledger is the record.</summary>
public sealed class OutcomePublisher(RedisNotices notices)
{
    public void Announce(LedgerEntry entry)
    {
        var attempt = entry.Attempt ?? throw new ArgumentException("Only an attempt's entry has an outcome.", nameof(entry));
        var outcome = new DeliveryOutcome(entry.AttemptId!, entry.Task.MessageId, entry.Task.EndpointId, entry.Task.ApplicationId,
            entry.Task.EventType, entry.Task.Attempt, AttemptStatus.Of(attempt.Succeeded), entry.Status, attempt.HttpStatus,
            (int)attempt.Latency.TotalMilliseconds, attempt.Error, entry.At, entry.NextAttemptAt);
        notices.Publish(DeliveryOutcome.Channel, outcome.ToUtf8Bytes());
    }
}
