using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text.Json;
using Confluent.Kafka;
using Herald.Deliveries;
using Herald.Kafka;
using Herald.Processor.Telemetry;
using Herald.Secrets;
using Herald.ServiceDefaults.Kafka;
using Herald.ServiceDefaults.Shutdown;
using Herald.ServiceDefaults.Telemetry;
using Microsoft.Extensions.Options;

namespace Herald.Processor.Delivery;

/// <summary>
/// One member of the <c>herald-delivery</c> consumer group. Records are handed to <see cref="DeliveryWorker"/>
/// concurrently — a slow endpoint never holds up the partition — and a partition's offset is stored only up to its
/// first record that is not yet recorded in PostgreSQL (at least once). On revocation and shutdown, sends already
/// under way finish and are recorded; tasks not yet started are left to the partition's next owner.
/// </summary>
internal sealed class DeliveryConsumer(
    KafkaConnection kafka,
    DeliveryWorker worker,
    IOptions<DeliveryOptions> options,
    IOptions<ShutdownOptions> shutdown,
    DeliveryTelemetry telemetry,
    ConsumerLag lag,
    ConsumerGroups groups,
    RecordAuthenticator records,
    ILogger<DeliveryConsumer> logger) : BackgroundService
{
    public const string GroupId = ConsumerGroupNames.Delivery;

    // Every log line of one task's delivery path names what it is about.
    private static readonly Func<ILogger, string, string, int, IDisposable?> DeliveryScope =
        LoggerMessage.DefineScope<string, string, int>("Delivery of {MessageId} to {EndpointId}, attempt {Attempt}");

    private readonly ConcurrentDictionary<TopicPartition, PartitionWork> _partitions = new();
    private readonly ConcurrentQueue<(PartitionWork Partition, long Offset)> _finished = new();
    private int _inFlight;

    // Consume() blocks its thread; give the loop one of its own rather than a pool thread.
    protected override Task ExecuteAsync(CancellationToken stoppingToken) =>
        Task.Factory.StartNew(() => Consume(stoppingToken), stoppingToken, TaskCreationOptions.LongRunning, TaskScheduler.Default);

    private void Consume(CancellationToken stoppingToken)
    {
        using var consumer = lag.Observe(new ConsumerBuilder<string, byte[]>(kafka.ConsumerConfig(GroupId)), GroupId)
            .SetPartitionsAssignedHandler((_, assigned) =>
            {
                foreach (var partition in assigned) _partitions[partition] = new PartitionWork(partition);
                groups.Joined(GroupId);
                logger.LogInformation("Assigned {Topic} partitions {Partitions}", Topics.Deliveries.Name, Describe(assigned));
            })
            .SetPartitionsRevokedHandler((c, revoked) => Release(c, [.. revoked.Select(p => p.TopicPartition)], commit: true))
            .SetPartitionsLostHandler((c, lost) =>
            {
                groups.Left(GroupId);
                Release(c, [.. lost.Select(p => p.TopicPartition)], commit: false);
            })
            .SetErrorHandler((_, error) => logger.LogWarning("Kafka consumer: {Reason}", error.Reason))
            .Build();

        consumer.Subscribe(Topics.Deliveries.Name);
        logger.LogInformation("Consuming {Topic} as group {GroupId}", Topics.Deliveries.Name, GroupId);
        var paused = false;
        try
        {
            while (!stoppingToken.IsCancellationRequested)
            {
                StoreFinished(consumer);
                // Backpressure: past MaxInFlight, stop fetching but keep polling so the group keeps this member.
                if (!paused && Volatile.Read(ref _inFlight) >= options.Value.MaxInFlight)
                {
                    consumer.Pause(consumer.Assignment);
                    paused = true;
                }
                else if (paused && Volatile.Read(ref _inFlight) < options.Value.MaxInFlight * 3 / 4)
                {
                    consumer.Resume(consumer.Assignment);
                    paused = false;
                }

                ConsumeResult<string, byte[]>? record;
                try
                {
                    record = consumer.Consume(TimeSpan.FromMilliseconds(50));
                }
                catch (ConsumeException exception)
                {
                    logger.LogWarning("Consume failed: {Reason}", exception.Error.Reason);
                    continue;
                }
                if (record is null || record.IsPartitionEOF) continue;
                Dispatch(record);
            }
        }
        finally
        {
            // Shutdown: finish sends under way within the shutdown timeout, then commit and leave the group.
            groups.Left(GroupId);
            Release(consumer, [.. _partitions.Keys], commit: true);
            consumer.Close();
            lag.Forget(GroupId);
            logger.LogInformation("Delivery consumer closed; stored offsets committed");
        }
    }

    private void Dispatch(ConsumeResult<string, byte[]> record)
    {
        var partition = _partitions.GetOrAdd(record.TopicPartition, p => new PartitionWork(p));
        partition.Track(record.Offset.Value);
        Interlocked.Increment(ref _inFlight);
        telemetry.InFlight(+1);

        if (!records.IsAuthentic(record.Message.Headers, Topics.Deliveries.Name, record.Message.Key, record.Message.Value))
        {
            // Not written by Herald: its payload must not be signed. A genuine delivery is in PostgreSQL, where the scheduler finds it.
            telemetry.Rejected(Topics.Deliveries.Name);
            logger.LogError("Skipping a delivery task without Herald's authentication at {TopicPartitionOffset}", record.TopicPartitionOffset);
            Finish(partition, record.Offset.Value);
            return;
        }
        DeliveryTask task;
        try
        {
            task = DeliveryTask.FromUtf8Bytes(record.Message.Value);
        }
        catch (JsonException exception)
        {
            logger.LogError("Skipping unreadable delivery task at {TopicPartitionOffset}: {Reason}", record.TopicPartitionOffset, exception.Message);
            Finish(partition, record.Offset.Value);
            return;
        }

        _ = RunAsync(task, partition, record.Offset.Value, TracePropagation.Extract(record.Message.Headers));
    }

    private async Task RunAsync(DeliveryTask task, PartitionWork partition, long offset, ActivityContext trace)
    {
        // Both flow with this task's async work only: this method's caller gets its context back at the first await.
        using var activity = DeliveryTelemetry.StartDelivery(task, trace);
        using var scope = DeliveryScope(logger, task.MessageId, task.EndpointId, task.Attempt);
        try
        {
            await worker.HandleAsync(task, partition);
            Finish(partition, offset);
        }
        catch (Exception exception)
        {
            // Not finished means not committed: the record is redone by this partition's next owner or after a restart.
            logger.LogError(exception, "Delivery of {MessageId} to {EndpointId} failed unexpectedly", task.MessageId, task.EndpointId);
            activity?.SetStatus(ActivityStatusCode.Error, exception.GetType().Name);
            Interlocked.Decrement(ref _inFlight);
            telemetry.InFlight(-1);
        }
    }

    private void Finish(PartitionWork partition, long offset)
    {
        _finished.Enqueue((partition, offset));
        Interlocked.Decrement(ref _inFlight);
        telemetry.InFlight(-1);
    }

    private void StoreFinished(IConsumer<string, byte[]> consumer)
    {
        var moved = new HashSet<PartitionWork>();
        while (_finished.TryDequeue(out var finished))
        {
            if (finished.Partition.Complete(finished.Offset)) moved.Add(finished.Partition);
        }
        foreach (var partition in moved.Where(p => !p.Revoked))
        {
            try
            {
                consumer.StoreOffset(new TopicPartitionOffset(partition.TopicPartition, partition.CommitOffset));
            }
            catch (KafkaException exception)
            {
                logger.LogDebug("Could not store offset for {TopicPartition}: {Reason}", partition.TopicPartition, exception.Error.Reason);
            }
        }
    }

    /// <summary>Stops new sends for the partitions, waits for sends under way, and commits what they finished.</summary>
    private void Release(IConsumer<string, byte[]> consumer, IReadOnlyList<TopicPartition> released, bool commit)
    {
        var work = released.Select(p => _partitions.TryGetValue(p, out var w) ? w : null).OfType<PartitionWork>().ToList();
        if (work.Count == 0) return;
        foreach (var partition in work) partition.Revoke();

        // A send is bounded by the request timeout; recording it takes moments more.
        var wait = commit ? Min(options.Value.RequestTimeout + TimeSpan.FromSeconds(5), shutdown.Value.Timeout) : TimeSpan.Zero;
        var deadline = DateTime.UtcNow + wait;
        while (work.Any(p => p.Sending > 0) && DateTime.UtcNow < deadline) Thread.Sleep(10);

        // Partitions this member keeps store as usual; released ones are committed now, while still assigned.
        StoreFinished(consumer);
        var offsets = work.Where(p => p.CommitOffset >= 0).Select(p => new TopicPartitionOffset(p.TopicPartition, p.CommitOffset)).ToList();
        if (commit && offsets.Count > 0)
        {
            try
            {
                consumer.Commit(offsets);
            }
            catch (KafkaException exception)
            {
                logger.LogWarning("Could not commit offsets of released partitions: {Reason}", exception.Error.Reason);
            }
        }
        foreach (var partition in work) _partitions.TryRemove(partition.TopicPartition, out _);
        logger.LogInformation("Released {Topic} partitions {Partitions}", Topics.Deliveries.Name, Describe(released));
    }

    private static TimeSpan Min(TimeSpan a, TimeSpan b) => a < b ? a : b;

    private static string Describe(IEnumerable<TopicPartition> partitions) => string.Join(",", partitions.Select(p => p.Partition.Value));

    /// <summary>The records of one partition that are in hand, and how far its offset may be committed.</summary>
    private sealed class PartitionWork(TopicPartition topicPartition) : ITaskOwnership
    {
        private readonly SortedSet<long> _open = [];
        private long _next = -1;

        public TopicPartition TopicPartition { get; } = topicPartition;

        public bool Revoked { get; private set; }

        public int Sending { get; private set; }

        /// <summary>The offset to commit: the first unfinished record, or past the last one seen; -1 before any.</summary>
        public long CommitOffset
        {
            get
            {
                lock (_open) return _open.Count > 0 ? _open.Min : _next;
            }
        }

        public void Track(long offset)
        {
            lock (_open)
            {
                _open.Add(offset);
                _next = offset + 1;
            }
        }

        /// <summary>Returns whether the commit offset moved.</summary>
        public bool Complete(long offset)
        {
            lock (_open)
            {
                var wasFirst = _open.Count > 0 && _open.Min == offset;
                _open.Remove(offset);
                return wasFirst;
            }
        }

        public void Revoke()
        {
            lock (_open) Revoked = true;
        }

        public bool TryBeginSend()
        {
            lock (_open)
            {
                if (Revoked) return false;
                Sending++;
                return true;
            }
        }

        public void EndSend()
        {
            lock (_open) Sending--;
        }
    }
}
