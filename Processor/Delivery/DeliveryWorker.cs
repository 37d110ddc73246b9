using System.Diagnostics;
using Herald.Database;
using Herald.Deliveries;
using Herald.Messages;
using Herald.Processor.Fifo;
using Herald.Processor.Telemetry;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Herald.Processor.Delivery;

/// <summary>A task in hand, and whether this Processor still owns its partition.</summary>
public interface ITaskOwnership
{
    /// <summary>Claims the right to send; false once the partition was revoked (its next owner does the task).</summary>
    bool TryBeginSend();

    void EndSend();
}

/// <summary>
/// Takes one task from Kafka to a recorded outcome: waits for a slot in its endpoint's and application's lanes, asks
/// the endpoint's breaker and rate limit, claims the attempt, sends, decides what comes next, records it, and
/// announces it. Whatever goes wrong on the way, the task ends recorded: a failure nobody foresaw hands the delivery
/// back to PostgreSQL (due again shortly, no attempt used) rather than leaving its Kafka record unfinished.
/// </summary>
public sealed class DeliveryWorker(
    DeliveryLanes lanes,
    EndpointDirectory endpoints,
    DeliveryAdmission admission,
    DeliveryClaims claims,
    WebhookSender sender,
    DeliveryLedger ledger,
    OutcomePublisher outcomes,
    EndpointHealth health,
    FifoLines fifo,
    IOptions<DeliveryOptions> options,
    DeliveryTelemetry telemetry,
    TimeProvider time,
    ILogger<DeliveryWorker> logger)
{
    /// <summary>A delivery handed back after an unforeseen failure is due again after this long.</summary>
    public static readonly TimeSpan HandBackDelay = TimeSpan.FromSeconds(5);

    public async Task HandleAsync(DeliveryTask task, ITaskOwnership ownership)
    {
        // The consumer hands each task over as it takes it off Kafka: consume-to-deliver starts here.
        var consumed = Stopwatch.GetTimestamp();
        var progress = new Progress();
        try
        {
            while (true)
            {
                // Older than its lease, the scheduler has already enqueued this attempt again: doing it twice helps no one.
                if (time.GetUtcNow() - task.EnqueuedAt > options.Value.Lease) return;
                var claim = await AttemptAsync(task, ownership, consumed, progress);
                if (claim.Outcome != ClaimOutcome.Busy) return;
                // Another Processor claimed this attempt (a partition's previous owner, a duplicate task): it records
                // the attempt, or its claim goes stale, whichever comes first.
                await Task.Delay(claim.RetryAfter, time);
            }
        }
        catch (Exception exception) when (!progress.Recorded)
        {
            logger.LogError(exception, "Delivery of {MessageId} to {EndpointId} failed unexpectedly; handing it back to be retried in {Delay}",
                task.MessageId, task.EndpointId, HandBackDelay);
            await ledger.RecordAsync(new LedgerEntry(task, DeliveryStatus.Pending, time.GetUtcNow() + HandBackDelay, Now(), HeldClaim: progress.Claimed));
        }
    }

    /// <summary>How far one task has got, for handing it back after a failure.</summary>
    private sealed class Progress
    {
        public bool Claimed { get; set; }
        public bool Recorded { get; set; }
    }

    private async Task<Claim> AttemptAsync(DeliveryTask task, ITaskOwnership ownership, long consumed, Progress progress)
    {
        using var endpointLane = lanes.EnterEndpoint(task.EndpointId);
        var wait = endpointLane.ExpectedWait;
        if (wait > options.Value.MaxEndpointWait || endpointLane.Users > options.Value.MaxQueuedPerEndpoint)
        {
            // A slow endpoint's backlog waits in PostgreSQL, not in this process's memory, until about when its turn comes.
            var deferral = TimeSpan.FromTicks(Math.Clamp(wait.Ticks, TimeSpan.FromSeconds(1).Ticks, TimeSpan.FromMinutes(5).Ticks));
            telemetry.Deferred(DeliveryTelemetry.DeferralReasons.EndpointBacklog);
            await RecordAsync(progress, new LedgerEntry(task, DeliveryStatus.Pending, Jittered(time.GetUtcNow() + deferral), Now()));
            return default;
        }

        await endpointLane.Slots.WaitAsync();
        var holdsSlots = true;
        try
        {
            var endpoint = await endpoints.FindAsync(task.EndpointId, CancellationToken.None);
            // A cached "disabled" may predate a re-enable that just resumed this very delivery: ask PostgreSQL.
            if (endpoint is { Disabled: true }) endpoint = await endpoints.ReloadAsync(task.EndpointId, CancellationToken.None);
            if (endpoint is null) return default; // Deleted: its deliveries went with it.
            if (endpoint.Disabled)
            {
                telemetry.Deferred(DeliveryTelemetry.DeferralReasons.EndpointDisabled);
                await RecordAsync(progress, new LedgerEntry(task, DeliveryStatus.Paused, null, Now()));
                return default;
            }

            var admitted = await admission.AdmitAsync(endpoint);
            if (!admitted.Allowed)
            {
                // The breaker is open: defer, never drop, and let every other endpoint carry on.
                telemetry.Deferred(DeliveryTelemetry.DeferralReasons.BreakerOpen);
                await RecordAsync(progress, new LedgerEntry(task, DeliveryStatus.Pending, Jittered(time.GetUtcNow() + admitted.Wait), Now()));
                return default;
            }

            using var applicationLane = lanes.EnterApplication(task.ApplicationId);
            using var hostLane = lanes.EnterHost(endpoint.Url.IdnHost);
            var ticket = new RateTicket();
            while (true)
            {
                await applicationLane.Slots.WaitAsync();
                await hostLane.Slots.WaitAsync();
                await lanes.All.WaitAsync();
                TimeSpan? overRate;
                try
                {
                    overRate = await admission.TryRatesAsync(endpoint, ticket);
                }
                catch
                {
                    ReleaseSharedSlots();
                    throw;
                }
                if (overRate is null) break;
                // Over a rate: wait for its next second without holding slots other endpoints could use.
                ReleaseSharedSlots();
                await Task.Delay(overRate.Value, time);
            }
            // The attempt's webhook-timestamp: the second its rates counted it in.
            var admittedAt = time.GetUtcNow();
            if (!ownership.TryBeginSend())
            {
                ReleaseSlots();
                return default;
            }
            try
            {
                Attempt attempt;
                try
                {
                    var claiming = Stopwatch.GetTimestamp();
                    var claim = await claims.ClaimAsync(task);
                    if (claim.Outcome != ClaimOutcome.Claimed)
                    {
                        telemetry.Skipped(claim.Outcome);
                        return claim;
                    }
                    progress.Claimed = true;
                    // Frozen between claim and send (a stopped process, a long pause), the claim may have gone stale and
                    // been taken over: give the attempt back rather than risk sending it twice.
                    if (Stopwatch.GetElapsedTime(claiming) > claims.Timeout - options.Value.RequestTimeout)
                    {
                        await RecordAsync(progress, new LedgerEntry(task, DeliveryStatus.Pending, time.GetUtcNow(), Now(), HeldClaim: true));
                        return default;
                    }
                    attempt = await sender.SendAsync(endpoint, task, CancellationToken.None, admittedAt);
                }
                finally
                {
                    // The slots bound requests to the endpoint; recording the outcome need not hold back the next one.
                    ReleaseSlots();
                }
                endpointLane.Observe(attempt.Latency);
                await RecordAsync(task, endpoint, attempt, probe: admitted.Kind == AdmissionKind.Probe, consumed, progress);
                return default;
            }
            finally
            {
                ownership.EndSend();
            }

            void ReleaseSlots()
            {
                ReleaseSharedSlots();
                endpointLane.Slots.Release();
                holdsSlots = false;
            }

            // The slots the attempt shares with other endpoints: of the whole process, its host and its application.
            void ReleaseSharedSlots()
            {
                lanes.All.Release();
                hostLane.Slots.Release();
                applicationLane.Slots.Release();
            }
        }
        finally
        {
            if (holdsSlots) endpointLane.Slots.Release();
        }
    }

    private async Task RecordAsync(Progress progress, LedgerEntry entry)
    {
        await ledger.RecordAsync(entry);
        progress.Recorded = true;
    }

    /// <summary>Decides what comes next, records it with the attempt, announces it, and tells the endpoint's health.</summary>
    private async Task RecordAsync(DeliveryTask task, EndpointTarget endpoint, Attempt attempt, bool probe, long consumed, Progress progress)
    {
        var now = Now();
        var decision = endpoint.Retries.Decide(task.Attempt, attempt, now);
        var entry = new LedgerEntry(task, decision.Status, decision.NextAttemptAt, now, attempt, SortableId.New("atmpt", now));
        // The attempt is recorded first: nothing after it may turn a sent webhook into a handed-back (resent) one.
        await RecordAsync(progress, entry);

        telemetry.Attempted(task, attempt, decision, Stopwatch.GetElapsedTime(consumed), time.GetUtcNow());
        // Every attempt is in the ledger, the metrics and the live stream; the log keeps failures at Information.
        logger.Log(attempt.Succeeded ? LogLevel.Debug : LogLevel.Information,
            "Attempt {Attempt} of {MessageId} to {EndpointId}: {Outcome} {HttpStatus} in {LatencyMs} ms; delivery {DeliveryStatus}",
            task.Attempt, task.MessageId, endpoint.Id, AttemptStatus.Of(attempt.Succeeded), attempt.HttpStatus,
            (int)attempt.Latency.TotalMilliseconds, decision.Status);
        outcomes.Announce(entry);
        await health.AfterAttemptAsync(entry, endpoint, probe);
        // The head of a FIFO line has left it: the next in line goes now (FifoHeads covers a failure here).
        if (task.Ordered && decision.Status is DeliveryStatus.Succeeded or DeliveryStatus.Failed) await AdvanceLineAsync(task.EndpointId);
    }

    private async Task AdvanceLineAsync(string endpointId)
    {
        try
        {
            await fifo.AdvanceAsync([endpointId]);
        }
        catch (Exception exception) when (exception is NpgsqlException or TimeoutException)
        {
            logger.LogWarning("Could not advance the FIFO line of {EndpointId}; the scheduler will: {Reason}", endpointId, exception.Message);
        }
    }

    private DateTimeOffset Now() => DatabaseTime.Now(time);

    private static DateTimeOffset Jittered(DateTimeOffset at) => at + TimeSpan.FromMilliseconds(Random.Shared.Next(0, 500));
}
