using System.Collections.Concurrent;
using Herald.Deliveries;
using Herald.Processor.Operations;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Herald.Processor.Delivery;

/// <summary>
/// What a recorded attempt means for its endpoint: the breaker hears of it, a 410 Gone disables the endpoint, the
/// first failure after a success is reported to the operator (<see cref="FailingEndpoints"/>), and an endpoint that has
/// failed without one success for <see cref="DeliveryOptions.DisableAfter"/> is disabled.
/// </summary>
public sealed class EndpointHealth(
    EndpointGate gate,
    EndpointDirectory endpoints,
    FailingEndpoints failing,
    NpgsqlDataSource dataSource,
    IOptions<DeliveryOptions> options,
    TimeProvider time)
{
    private readonly ConcurrentDictionary<string, long> _disableChecks = new(StringComparer.Ordinal);

    /// <param name="probe">The attempt was the half-open breaker's one probe: its outcome settles the breaker at once.</param>
    public async Task AfterAttemptAsync(LedgerEntry entry, EndpointTarget endpoint, bool probe)
    {
        var attempt = entry.Attempt ?? throw new ArgumentException("Only an attempt's entry has an outcome.", nameof(entry));
        if (probe) await gate.ReportProbeAsync(endpoint, attempt.Succeeded);
        else gate.Report(endpoint, attempt.Succeeded);
        if (entry.Status == DeliveryStatus.Paused)
            await endpoints.DisableAsync(endpoint.Id, "The endpoint answered 410 Gone.", CancellationToken.None);
        if (attempt.Succeeded)
        {
            failing.Succeeded(endpoint.Id);
            return;
        }
        await failing.FailedAsync(entry.Task, entry.AttemptId!, attempt, DeliveryLedger.ErrorOf(attempt), entry.At);
        await DisableIfFailingTooLongAsync(endpoint.Id);
    }

    /// <summary>Checked at most a few times per period per endpoint, from the attempts in PostgreSQL.</summary>
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
}
