using System.Collections.Concurrent;
using Herald.Deliveries;
using Herald.Messages;
using Herald.Operations;
using Herald.Processor.Delivery;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Herald.Processor.Operations;

/// <summary>
/// Emits <c>message.attempt.failing</c>: an endpoint's first failed attempt after a success (or its very first attempt),
/// at most one per endpoint per <see cref="OperationalWebhookOptions.FailingDebounce"/>. PostgreSQL decides both — the
/// endpoint's previous attempt, and the last such event about it — so replicas, restarts and partition moves agree.
/// This replica only remembers which endpoints it saw fail since their last success, so an endpoint that keeps failing
/// costs one lookup, not one per attempt, and a success costs a lock-free read.
/// </summary>
public sealed class FailingEndpoints(NpgsqlDataSource dataSource, IOptions<OperationalWebhookOptions> options, ILogger<FailingEndpoints> logger)
{
    private readonly ConcurrentDictionary<string, byte> _failing = new(StringComparer.Ordinal);

    // $6 endpoint, $7 this attempt's id, $8 the lowest message id of the debounce window, $9 the endpoint's event ids' prefix.
    private static readonly string Condition = $"""
        COALESCE((SELECT a.status FROM delivery_attempts a WHERE a.endpoint_id = $6 AND a.id < $7 ORDER BY a.id DESC LIMIT 1),
                 '{AttemptStatus.Succeeded}') = '{AttemptStatus.Succeeded}'
        AND NOT EXISTS (SELECT 1 FROM messages m
                        WHERE m.application_id = '{OperationalEvents.ApplicationId}' AND m.id >= $8
                          AND m.event_type = '{OperationalEventTypes.AttemptFailing}' AND starts_with(m.event_id, $9))
        """;

    public void Succeeded(string endpointId)
    {
        if (_failing.ContainsKey(endpointId)) _failing.TryRemove(endpointId, out _);
    }

    /// <summary>After the failed attempt is recorded (its row is what the next failure compares with).</summary>
    public async Task FailedAsync(DeliveryTask task, string attemptId, Attempt attempt, string? error, DateTimeOffset at)
    {
        if (!OperationalEvents.AreEmittedFor(task.ApplicationId) || !_failing.TryAdd(task.EndpointId, 0)) return;
        var failing = OperationalEvent.AttemptFailing(task.ApplicationId, task.MessageId, task.EventType, task.EndpointId,
            new AttemptSummary(attemptId, at, attempt.HttpStatus, error));
        try
        {
            await using var connection = await dataSource.OpenConnectionAsync();
            await OperationalEvents.WriteAsync(connection, null, [failing], CancellationToken.None, Condition,
                new NpgsqlParameter { Value = task.EndpointId },
                new NpgsqlParameter { Value = attemptId },
                new NpgsqlParameter { Value = SortableId.Lowest("msg", at - options.Value.FailingDebounce) },
                new NpgsqlParameter { Value = OperationalEvent.FailingEventIdPrefix(task.EndpointId) });
        }
        catch (Exception exception) when (exception is NpgsqlException or TimeoutException)
        {
            // A notice, not a delivery: the endpoint's next failure asks again.
            _failing.TryRemove(task.EndpointId, out _);
            logger.LogWarning("Could not record that endpoint {EndpointId} is failing: {Reason}", task.EndpointId, exception.Message);
        }
    }
}
