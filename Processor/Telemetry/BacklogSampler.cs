using System.Diagnostics.Metrics;
using Herald.Database;
using Herald.Deliveries;
using Npgsql;
using StackExchange.Redis;

namespace Herald.Processor.Telemetry;

/// <summary>
/// Gauges of state that lives in PostgreSQL and Redis rather than in this process: due deliveries nobody has claimed
/// yet, disabled endpoints, endpoints whose circuit breaker is open, and FIFO lines (waiting deliveries, and lines blocked
/// by a head being retried or paused). Sampled in the background — PostgreSQL every
/// few seconds, Redis less often — and served from the last sample, so scrapes never wait on a query and any number of
/// scrapers cost the same. Every replica reports the same install-wide numbers: aggregate with max, not sum.
/// </summary>
internal sealed class BacklogSampler : BackgroundService
{
    private static readonly TimeSpan Interval = TimeSpan.FromSeconds(5);

    // Counting endpoints scans tables and the Redis keyspace; they change slowly.
    private const int SlowEvery = 3;

    /// <summary>EndpointGate's breaker key of every endpoint: present while open or half-open, deleted on close.</summary>
    private const string BreakerKeys = "herald:endpoint:*:breaker";

    private readonly NpgsqlDataSource _dataSource;
    private readonly IConnectionMultiplexer _redis;
    private readonly TimeProvider _time;
    private readonly ILogger<BacklogSampler> _logger;
    // Replaced whole (a reference write is atomic); null until first sampled.
    private Reading? _due;
    private Reading? _disabled;
    private Reading? _breakersOpen;
    private Reading? _queued;
    private Reading? _blocked;

    public BacklogSampler(NpgsqlDataSource dataSource, IConnectionMultiplexer redis, IMeterFactory meters, TimeProvider time, ILogger<BacklogSampler> logger)
    {
        _dataSource = dataSource;
        _redis = redis;
        _time = time;
        _logger = logger;
        var meter = meters.Create(DeliveryTelemetry.MeterName);
        meter.CreateObservableGauge("herald.deliveries.due", () => Sampled(_due), "{delivery}",
            "Pending deliveries whose next attempt is due and that no Processor has claimed yet (the retry scheduler's backlog).");
        meter.CreateObservableGauge("herald.endpoints.disabled", () => Sampled(_disabled), "{endpoint}",
            "Endpoints disabled (410 Gone, failing too long, or by the user); their deliveries are paused.");
        meter.CreateObservableGauge("herald.endpoints.breaker_open", () => Sampled(_breakersOpen), "{endpoint}",
            "Endpoints whose circuit breaker is open or half-open; their deliveries are deferred.");
        meter.CreateObservableGauge("herald.fifo.queued", () => Sampled(_queued), "{delivery}",
            "Deliveries waiting in FIFO endpoints' lines behind the delivery at their head.");
        meter.CreateObservableGauge("herald.fifo.blocked", () => Sampled(_blocked), "{endpoint}",
            "FIFO endpoints whose head of line is being retried or is paused (the API's blockedBy): their lines wait for it.");
    }

    // Nothing is reported until the first sample, rather than a zero that was never measured.
    private static IEnumerable<Measurement<long>> Sampled(Reading? reading) => reading is null ? [] : [new Measurement<long>(reading.Value)];

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(Interval, _time);
        var tick = 0;
        do
        {
            await SampleAsync(() => CountDueAsync(stoppingToken), value => _due = new Reading(value), "due deliveries", stoppingToken);
            if (tick++ % SlowEvery == 0)
            {
                await SampleAsync(() => CountDisabledAsync(stoppingToken), value => _disabled = new Reading(value), "disabled endpoints", stoppingToken);
                await SampleAsync(() => CountOpenBreakersAsync(stoppingToken), value => _breakersOpen = new Reading(value), "open circuit breakers", stoppingToken);
                await SampleAsync(() => CountAsync($"SELECT count(*) FROM deliveries WHERE status = '{DeliveryStatus.Queued}'", stoppingToken),
                    value => _queued = new Reading(value), "queued FIFO deliveries", stoppingToken);
                await SampleAsync(() => CountAsync($"""
                    SELECT count(*) FROM deliveries d WHERE {FifoHead.Blocks("d")}
                    """, stoppingToken), value => _blocked = new Reading(value), "blocked FIFO lines", stoppingToken);
            }
        }
        while (await WaitAsync(timer, stoppingToken));
    }

    private async Task SampleAsync(Func<Task<long>> count, Action<long> store, string what, CancellationToken stoppingToken)
    {
        try
        {
            store(await count());
        }
        // A dropped connection cancels a Redis scan (TaskCanceledException) rather than failing it.
        catch (Exception exception) when (!stoppingToken.IsCancellationRequested
                                          && exception is NpgsqlException or RedisException or TimeoutException or OperationCanceledException)
        {
            // The last sample stays: readiness reports the outage; the gauge should not flap to nothing.
            _logger.LogDebug("Could not count {What}: {Reason}", what, exception.Message);
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    private async Task<long> CountDueAsync(CancellationToken cancellationToken)
    {
        // The scheduler's own predicate (and index): claimed rows have been leased into the future.
        await using var query = _dataSource.CreateCommand($"SELECT count(*) FROM deliveries WHERE status = '{DeliveryStatus.Pending}' AND next_attempt_at <= $1");
        query.Parameters.Add(new() { Value = DatabaseTime.Now(_time) });
        return (long)(await query.ExecuteScalarAsync(cancellationToken))!;
    }

    private Task<long> CountDisabledAsync(CancellationToken cancellationToken) => CountAsync("SELECT count(*) FROM endpoints WHERE disabled", cancellationToken);

    private async Task<long> CountAsync(string sql, CancellationToken cancellationToken)
    {
        await using var query = _dataSource.CreateCommand(sql);
        return (long)(await query.ExecuteScalarAsync(cancellationToken))!;
    }

    /// <summary>
    /// Counts breaker keys with SCAN on every primary. Counting the keys themselves, rather than a counter kept beside
    /// them, stays right whoever opened or closed a breaker (any replica), after a replica died between the two writes,
    /// and after a Redis flush; a set updated in the breaker's script would live in another cluster slot than the
    /// endpoint's keys, which a script may not touch. The cost is a keyspace walk every <see cref="SlowEvery"/> samples.
    /// </summary>
    private async Task<long> CountOpenBreakersAsync(CancellationToken cancellationToken)
    {
        long open = 0;
        foreach (var endpoint in _redis.GetEndPoints())
        {
            var server = _redis.GetServer(endpoint);
            // Unreachable, it would count as no open breaker: keep the last sample instead.
            if (!server.IsConnected) throw new RedisConnectionException(ConnectionFailureType.UnableToConnect, $"Redis {endpoint} is not connected.");
            if (server.IsReplica) continue;
            await foreach (var _ in server.KeysAsync(pattern: BreakerKeys, pageSize: 1000).WithCancellation(cancellationToken)) open++;
        }
        return open;
    }

    private sealed record Reading(long Value);

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
}
