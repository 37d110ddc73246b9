using System.Diagnostics.Metrics;
using Npgsql;

namespace Herald.ApiService.Telemetry;

/// <summary>
/// Gauges of what is committed but not yet in Kafka: how many messages, and how old the oldest is. Sampled from
/// PostgreSQL every few seconds (an index-only look at <c>messages_unpublished</c>) rather than per scrape, so any
/// number of scrapers costs one small query per interval. Every API replica reports the same database-wide numbers:
/// aggregate with max, not sum.
/// </summary>
public sealed class OutboxBacklog : BackgroundService
{
    private static readonly TimeSpan Interval = TimeSpan.FromSeconds(5);

    private readonly NpgsqlDataSource _dataSource;
    private readonly TimeProvider _time;
    private readonly ILogger<OutboxBacklog> _logger;
    private Sample? _last;

    public OutboxBacklog(NpgsqlDataSource dataSource, IMeterFactory meters, TimeProvider time, ILogger<OutboxBacklog> logger)
    {
        _dataSource = dataSource;
        _time = time;
        _logger = logger;
        var meter = meters.Create(ApiMetrics.MeterName);
        // No sample yet (or PostgreSQL unreachable since start) reports nothing rather than a misleading zero.
        meter.CreateObservableGauge("herald.outbox.unpublished", () => _last is { } last ? [new Measurement<long>(last.Count)] : Array.Empty<Measurement<long>>(),
            "{message}", "Committed messages not yet published to Kafka (the relay's backlog; sampled every few seconds).");
        meter.CreateObservableGauge("herald.outbox.oldest_unpublished_age", () => _last is { } last ? [new Measurement<double>(last.OldestAge)] : Array.Empty<Measurement<double>>(),
            "s", "Age of the oldest committed message not yet published to Kafka; 0 when there is none.");
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(Interval, _time);
        do
        {
            try
            {
                await using var query = _dataSource.CreateCommand("SELECT count(*), min(created_at) FROM message_outbox");
                await using var reader = await query.ExecuteReaderAsync(stoppingToken);
                await reader.ReadAsync(stoppingToken);
                var oldest = reader.IsDBNull(1) ? (DateTimeOffset?)null : reader.GetFieldValue<DateTimeOffset>(1);
                _last = new Sample(reader.GetInt64(0), oldest is { } at ? Math.Max(0, (_time.GetUtcNow() - at).TotalSeconds) : 0);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception exception) when (exception is NpgsqlException or TimeoutException)
            {
                // The last sample stays: readiness reports the outage; the gauge should not flap to nothing.
                _logger.LogDebug("Could not sample the outbox backlog: {Reason}", exception.Message);
            }
        }
        while (await WaitAsync(timer, stoppingToken));
    }

    private static async Task<bool> WaitAsync(PeriodicTimer timer, CancellationToken stoppingToken)
    {
        try
        {
            return await timer.WaitForNextTickAsync(stoppingToken);
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    private sealed record Sample(long Count, double OldestAge);
}
