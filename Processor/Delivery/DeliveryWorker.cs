using System.Collections.Concurrent;
using System.Diagnostics;
using Herald.Database;
using Herald.Deliveries;
using Herald.Messages;
using Herald.Processor.Operations;
using Herald.Processor.Telemetry;
using Herald.ServiceDefaults.Redis;
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
    EndpointGate gate,
    RateLimitLeases rates,
    WebhookSender sender,
    RetrySchedule schedule,
    DeliveryClaims claims,
    DeliveryLedger ledger,
    FailingEndpoints failing,
    NpgsqlDataSource dataSource,
    RedisNotices notices,
    IOptions<DeliveryOptions> options,
    DeliveryTelemetry telemetry,
    TimeProvider time,
    ILogger<DeliveryWorker> logger)
{
    private readonly ConcurrentDictionary<string, long> _disableChecks = new(StringComparer.Ordinal);

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

            var admission = await AdmitAsync(endpoint);
            if (!admission.Allowed)
            {
                // The breaker is open: defer, never drop, and let every other endpoint carry on.
                telemetry.Deferred(DeliveryTelemetry.DeferralReasons.BreakerOpen);
                await RecordAsync(progress, new LedgerEntry(task, DeliveryStatus.Pending, Jittered(time.GetUtcNow() + admission.Wait), Now()));
                return default;
            }

            using var applicationLane = lanes.EnterApplication(task.ApplicationId);
            using var hostLane = lanes.EnterHost(endpoint.Url.IdnHost);
            await applicationLane.Slots.WaitAsync();
            await hostLane.Slots.WaitAsync();
            await lanes.All.WaitAsync();
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
                    attempt = await sender.SendAsync(endpoint, task, CancellationToken.None);
                }
                finally
                {
                    // The slots bound requests to the endpoint; recording the outcome need not hold back the next one.
                    ReleaseSlots();
                }
                endpointLane.Observe(attempt.Latency);
                await RecordAsync(task, endpoint, attempt, probe: admission.Kind == AdmissionKind.Probe, consumed, progress);
                return default;
            }
            finally
            {
                ownership.EndSend();
            }

            void ReleaseSlots()
            {
                lanes.All.Release();
                hostLane.Slots.Release();
                applicationLane.Slots.Release();
                endpointLane.Slots.Release();
                holdsSlots = false;
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

    private async Task<Admission> AdmitAsync(EndpointTarget endpoint)
    {
        // The application's deliveries per second, across all its endpoints and every replica, come first.
        await WithinRateAsync(ApplicationRateKey(endpoint.ApplicationId), endpoint.ApplicationRateLimit, DeliveryTelemetry.DeferralReasons.ApplicationRateLimit);
        var admission = await gate.AdmitAsync(endpoint);
        // Over the endpoint's rate: wait in its own lane for the next second; no other endpoint notices.
        if (admission.Allowed) await WithinRateAsync(EndpointRateKey(endpoint.Id), endpoint.RateLimit, reason: null);
        return admission;
    }

    /// <summary>Waits until the key's per-second count (shared by every replica through Redis) admits one more.</summary>
    private async Task WithinRateAsync(string key, int? limit, string? reason)
    {
        while (limit is > 0 && await rates.AcquireAsync(key, limit.Value) is { } wait)
        {
            if (reason is not null) telemetry.Deferred(reason);
            await Task.Delay(wait, time);
        }
    }

    private static string EndpointRateKey(string endpointId) => "endpoint-deliveries:" + endpointId;

    private static string ApplicationRateKey(string applicationId) => "application-deliveries:" + applicationId;

    /// <summary>Reports the attempt to the breaker, decides what comes next, records both, and announces them.</summary>
    private async Task RecordAsync(DeliveryTask task, EndpointTarget endpoint, Attempt attempt, bool probe, long consumed, Progress progress)
    {
        var now = Now();
        var decision = schedule.Decide(task.Attempt, attempt, now);
        var entry = new LedgerEntry(task, decision.Status, decision.NextAttemptAt, now, attempt, SortableId.New("atmpt", now));
        // The attempt is recorded first: nothing after it may turn a sent webhook into a handed-back (resent) one.
        await RecordAsync(progress, entry);
        if (probe) await gate.ReportProbeAsync(endpoint, attempt.Succeeded);
        else gate.Report(endpoint, attempt.Succeeded);
        if (decision.Status == DeliveryStatus.Paused)
            await endpoints.DisableAsync(endpoint.Id, "The endpoint answered 410 Gone.", CancellationToken.None);

        telemetry.Attempted(task, attempt, decision, Stopwatch.GetElapsedTime(consumed), time.GetUtcNow());
        // Every attempt is in the ledger, the metrics and the live stream; the log keeps failures at Information.
        logger.Log(attempt.Succeeded ? LogLevel.Debug : LogLevel.Information,
            "Attempt {Attempt} of {MessageId} to {EndpointId}: {Outcome} {HttpStatus} in {LatencyMs} ms; delivery {DeliveryStatus}",
            task.Attempt, task.MessageId, endpoint.Id, AttemptStatus.Of(attempt.Succeeded), attempt.HttpStatus,
            (int)attempt.Latency.TotalMilliseconds, decision.Status);
        Announce(entry);
        if (attempt.Succeeded)
        {
            failing.Succeeded(endpoint.Id);
            return;
        }
        await failing.FailedAsync(task, entry.AttemptId!, attempt, DeliveryLedger.ErrorOf(attempt), now);
        await DisableIfFailingTooLongAsync(endpoint.Id);
    }

    private void Announce(LedgerEntry entry)
    {
        var attempt = entry.Attempt!;
        var outcome = new DeliveryOutcome(entry.AttemptId!, entry.Task.MessageId, entry.Task.EndpointId, entry.Task.ApplicationId,
            entry.Task.EventType, entry.Task.Attempt, AttemptStatus.Of(attempt.Succeeded), entry.Status, attempt.HttpStatus,
            (int)attempt.Latency.TotalMilliseconds, attempt.Error, entry.At, entry.NextAttemptAt);
        // Fire and forget: live outcomes are a view; the ledger is the record.
        notices.Publish(DeliveryOutcome.Channel, outcome.ToUtf8Bytes());
    }

    /// <summary>Disables an endpoint that has failed without one success for <see cref="DeliveryOptions.DisableAfter"/>.
    /// Checked at most a few times per period per endpoint, from the attempts in PostgreSQL.</summary>
    private async Task DisableIfFailingTooLongAsync(string endpointId)
    {
        var disableAfter = options.Value.DisableAfter;
        var every = TimeSpan.FromTicks(Math.Min(disableAfter.Ticks / 4, TimeSpan.FromMinutes(1).Ticks));
        var now = time.GetTimestamp();
        var last = _disableChecks.GetOrAdd(endpointId, 0);
        if (last != 0 && time.GetElapsedTime(last, now) < every) return;
        if (!_disableChecks.TryUpdate(endpointId, now, last)) return;

        await using var query = dataSource.CreateCommand($"""
            SELECT attempted_at FROM delivery_attempts
            WHERE endpoint_id = $1 AND id > COALESCE(
                (SELECT id FROM delivery_attempts WHERE endpoint_id = $1 AND status = '{AttemptStatus.Succeeded}' ORDER BY attempted_at DESC LIMIT 1), '')
            ORDER BY id LIMIT 1
            """);
        query.Parameters.Add(new() { Value = endpointId });
        if (await query.ExecuteScalarAsync() is not DateTime failingSince) return;
        var since = new DateTimeOffset(failingSince, TimeSpan.Zero);
        if (time.GetUtcNow() - since < disableAfter) return;
        await endpoints.DisableAsync(endpointId,
            $"Every delivery has failed since {since:u}: no success for {disableAfter}.", CancellationToken.None);
    }

    private DateTimeOffset Now() => DatabaseTime.Now(time);

    private static DateTimeOffset Jittered(DateTimeOffset at) => at + TimeSpan.FromMilliseconds(Random.Shared.Next(0, 500));
}
