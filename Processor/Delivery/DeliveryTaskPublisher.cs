using System.Diagnostics;
using Confluent.Kafka;
using Herald.Deliveries;
using Herald.Kafka;
using Herald.Processor.Telemetry;
using Herald.Secrets;
using Herald.ServiceDefaults.Telemetry;

namespace Herald.Processor.Delivery;

/// <summary>Publishes delivery tasks on <c>herald.deliveries</c>, authenticated as Herald's and keyed by endpoint, and waits for the brokers' acks.</summary>
public sealed class DeliveryTaskPublisher(IProducer<string, byte[]> producer, RecordAuthenticator records, DeliveryLedger ledger, TimeProvider time, ILogger<DeliveryTaskPublisher> logger)
{
    /// <summary>Returns how many were acknowledged. One that was not is made due at once in PostgreSQL, where the
    /// scheduler finds it, rather than waiting out its lease: a failure here delays a delivery but never loses it.</summary>
    public async Task<int> PublishAsync(IReadOnlyList<DeliveryTask> tasks)
    {
        if (tasks.Count == 0) return 0;
        var acks = new List<Task<bool>>(tasks.Count);
        foreach (var task in tasks)
        {
            var ack = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
            // The task's record carries its message's trace on to the delivery consumer.
            var trace = TracePropagation.Parse(task.TraceParent);
            using var activity = trace == default ? null : StartPublishActivity(task, trace);
            var headers = new Headers();
            TracePropagation.Inject(headers, activity?.Context ?? trace);
            var value = task.ToUtf8Bytes();
            records.Stamp(headers, Topics.Deliveries.Name, task.EndpointId, value);
            try
            {
                producer.Produce(Topics.Deliveries.Name, new Message<string, byte[]> { Key = task.EndpointId, Value = value, Headers = headers },
                    report => ack.TrySetResult(report.Error.Code == ErrorCode.NoError));
            }
            catch (ProduceException<string, byte[]> exception)
            {
                logger.LogWarning("Could not enqueue delivery of {MessageId} to {EndpointId}: {Reason}", task.MessageId, task.EndpointId, exception.Error.Reason);
                ack.TrySetResult(false);
            }
            acks.Add(ack.Task);
        }
        var results = await Task.WhenAll(acks);
        var lost = tasks.Where((_, i) => !results[i]).ToList();
        if (lost.Count > 0)
        {
            logger.LogWarning("{Failed} of {Count} delivery tasks were not acknowledged by Kafka; they are due again in PostgreSQL", lost.Count, results.Length);
            var now = Database.DatabaseTime.Now(time);
            await Task.WhenAll(lost.Select(task => ledger.RecordAsync(new LedgerEntry(task, DeliveryStatus.Pending, now, now))));
        }
        return results.Length - lost.Count;
    }

    private static Activity? StartPublishActivity(DeliveryTask task, ActivityContext parent)
    {
        var activity = DeliveryTelemetry.Tracing.StartActivity($"{Topics.Deliveries.Name} publish", ActivityKind.Producer, parent);
        activity?.SetTag("messaging.system", "kafka");
        activity?.SetTag("messaging.operation.type", "send");
        activity?.SetTag("messaging.destination.name", Topics.Deliveries.Name);
        activity?.SetTag("herald.message.id", task.MessageId);
        activity?.SetTag("herald.endpoint.id", task.EndpointId);
        activity?.SetTag("herald.delivery.attempt", task.Attempt);
        return activity;
    }
}
