using System.Collections.Concurrent;
using System.Diagnostics;
using Herald.Database;
using Herald.Deliveries;
using Herald.Messages;
using Herald.Processor.Telemetry;
using Microsoft.Extensions.Options;
using Npgsql;
using StackExchange.Redis;

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
/// the endpoint's breaker and rate limit, sends, decides what comes next, records it, and announces it.
/// </summary>
public sealed class DeliveryWorker(
    DeliveryLanes lanes,
    EndpointDirectory endpoints,
    EndpointGate gate,
    WebhookSender sender,
    RetrySchedule schedule,
    DeliveryLedger ledger,
    NpgsqlDataSource dataSource,
    IConnectionMultiplexer redis,
    IOptions<DeliveryOptions> options,
    DeliveryTelemetry telemetry,
    TimeProvider time,
    ILogger<DeliveryWorker> logger)
{
    private readonly ConcurrentDictionary<string, long> _disableChecks = new(StringComparer.Ordinal);

    public async Task HandleAsync(DeliveryTask task, ITaskOwnership ownership)
    {
        // The consumer hands each task over as it takes it off Kafka: consume-to-deliver starts here.
        var consumed = Stopwatch.GetTimestamp();
        // Older than its lease, the scheduler has already enqueued this attempt again: doing it twice helps no one.
        if (time.GetUtcNow() - task.EnqueuedAt > options.Value.Lease) return;

        using var endpointLane = lanes.EnterEndpoint(task.EndpointId);
        var wait = endpointLane.ExpectedWait;
        if (wait > options.Value.MaxEndpointWait || endpointLane.Users > options.Value.MaxQueuedPerEndpoint)
        {
            // A slow endpoint's backlog waits in PostgreSQL, not in this process's memory, until about when its turn comes.
            var deferral = TimeSpan.FromTicks(Math.Clamp(wait.Ticks, TimeSpan.FromSeconds(1).Ticks, TimeSpan.FromMinutes(5).Ticks));
            telemetry.Deferred(DeliveryTelemetry.DeferralReasons.EndpointBacklog);
            await ledger.RecordAsync(new LedgerEntry(task, DeliveryDecision.Pending, Jittered(time.GetUtcNow() + deferral), Now()));
            return;
        }

        await endpointLane.Slots.WaitAsync();
        var holdsSlots = true;
        try
        {
            var endpoint = await endpoints.FindAsync(task.EndpointId, CancellationToken.None);
            // A cached "disabled" may predate a re-enable that just resumed this very delivery: ask PostgreSQL.
            if (endpoint is { Disabled: true }) endpoint = await endpoints.ReloadAsync(task.EndpointId, CancellationToken.None);
            if (endpoint is null) return; // Deleted: its deliveries went with it.
            if (endpoint.Disabled)
            {
                telemetry.Deferred(DeliveryTelemetry.DeferralReasons.EndpointDisabled);
                await ledger.RecordAsync(new LedgerEntry(task, DeliveryDecision.Paused, null, Now()));
                return;
            }

            var admission = await AdmitAsync(endpoint);
            if (!admission.Allowed)
            {
                // The breaker is open: defer, never drop, and let every other endpoint carry on.
                telemetry.Deferred(DeliveryTelemetry.DeferralReasons.BreakerOpen);
                await ledger.RecordAsync(new LedgerEntry(task, DeliveryDecision.Pending, Jittered(time.GetUtcNow() + admission.Wait), Now()));
                return;
            }

            using var applicationLane = lanes.EnterApplication(task.ApplicationId);
            await applicationLane.Slots.WaitAsync();
            await lanes.All.WaitAsync();
            Attempt attempt;
            try
            {
                if (!ownership.TryBeginSend()) return;
                attempt = await sender.SendAsync(endpoint, task, CancellationToken.None);
            }
            finally
            {
                // The slots bound requests to the endpoint; recording the outcome need not hold back the next one.
                lanes.All.Release();
                applicationLane.Slots.Release();
                endpointLane.Slots.Release();
                holdsSlots = false;
            }

            try
            {
                endpointLane.Observe(attempt.Latency);
                await RecordAsync(task, endpoint, attempt, probe: admission.Kind == AdmissionKind.Probe, consumed);
            }
            finally
            {
                ownership.EndSend();
            }
        }
        finally
        {
            if (holdsSlots) endpointLane.Slots.Release();
        }
    }

    private async Task<Admission> AdmitAsync(EndpointTarget endpoint)
    {
        while (true)
        {
            var admission = await gate.AdmitAsync(endpoint);
            // Over the endpoint's rate: wait in its own lane for the next second; no other endpoint notices.
            if (admission.Kind != AdmissionKind.RateLimited) return admission;
            await Task.Delay(admission.Wait);
        }
    }

    /// <summary>Reports the attempt to the breaker, decides what comes next, records both, and announces them.</summary>
    private async Task RecordAsync(DeliveryTask task, EndpointTarget endpoint, Attempt attempt, bool probe, long consumed)
    {
        var now = Now();
        var decision = schedule.Decide(task.Attempt, attempt, now);
        if (probe) await ReportProbeQuietlyAsync(endpoint, attempt.Succeeded);
        else gate.Report(endpoint, attempt.Succeeded);
        if (decision.Status == DeliveryDecision.Paused)
            await endpoints.DisableAsync(endpoint.Id, "The endpoint answered 410 Gone.", CancellationToken.None);

        var entry = new LedgerEntry(task, decision.Status, decision.NextAttemptAt, now, attempt, SortableId.New("atmpt", now));
        await ledger.RecordAsync(entry);
        telemetry.Attempted(task, attempt, decision, Stopwatch.GetElapsedTime(consumed), time.GetUtcNow());
        // Every attempt is in the ledger, the metrics and the live stream; the log keeps failures at Information.
        logger.Log(attempt.Succeeded ? LogLevel.Debug : LogLevel.Information,
            "Attempt {Attempt} of {MessageId} to {EndpointId}: {Outcome} {HttpStatus} in {LatencyMs} ms; delivery {DeliveryStatus}",
            task.Attempt, task.MessageId, endpoint.Id, attempt.Succeeded ? "succeeded" : "failed", attempt.HttpStatus,
            (int)attempt.Latency.TotalMilliseconds, decision.Status);
        Announce(entry);
        if (!attempt.Succeeded) await DisableIfFailingTooLongAsync(endpoint.Id);
    }

    private async Task ReportProbeQuietlyAsync(EndpointTarget endpoint, bool succeeded)
    {
        try
        {
            await gate.ReportProbeAsync(endpoint, succeeded);
        }
        catch (Exception exception) when (exception is RedisException or TimeoutException)
        {
            // Without Redis the probe's outcome is lost; the breaker sends another probe after the probe timeout.
            logger.LogWarning("Could not report the probe of {EndpointId} to its circuit breaker: {Reason}", endpoint.Id, exception.Message);
        }
    }

    private void Announce(LedgerEntry entry)
    {
        var attempt = entry.Attempt!;
        var outcome = new DeliveryOutcome(entry.AttemptId!, entry.Task.MessageId, entry.Task.EndpointId, entry.Task.ApplicationId,
            entry.Task.EventType, entry.Task.Attempt, attempt.Succeeded ? "succeeded" : "failed", entry.Status, attempt.HttpStatus,
            (int)attempt.Latency.TotalMilliseconds, attempt.Error, entry.At, entry.NextAttemptAt);
        // Fire and forget: live outcomes are a view; the ledger is the record.
        redis.GetSubscriber().Publish(RedisChannel.Literal(DeliveryOutcome.Channel), outcome.ToUtf8Bytes(), CommandFlags.FireAndForget);
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

        await using var query = dataSource.CreateCommand("""
            SELECT attempted_at FROM delivery_attempts
            WHERE endpoint_id = $1 AND id > COALESCE(
                (SELECT id FROM delivery_attempts WHERE endpoint_id = $1 AND status = 'succeeded' ORDER BY attempted_at DESC LIMIT 1), '')
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
