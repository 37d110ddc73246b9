using System.Collections.Concurrent;
using Herald.ServiceDefaults.Health;
using Herald.ServiceDefaults.Redis;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace Herald.Processor.Delivery;

/// <summary>Whether an attempt may go to its endpoint now.</summary>
public readonly record struct Admission(AdmissionKind Kind, TimeSpan Wait)
{
    public bool Allowed => Kind is AdmissionKind.Allowed or AdmissionKind.Probe;
}

public enum AdmissionKind
{
    Allowed,
    /// <summary>The breaker is open (or another probe is out): defer for <see cref="Admission.Wait"/>.</summary>
    BreakerOpen,
    /// <summary>The breaker is half-open and this attempt is its one probe.</summary>
    Probe,
}

/// <summary>
/// The per-endpoint circuit breaker, kept in Redis so every Processor replica shares it, without a Redis round trip per
/// attempt (an endpoint's rate limit is a <see cref="Herald.ServiceDefaults.Redis.RateLimitLeases"/> count, like the
/// application's):
/// <list type="bullet">
/// <item>Outcomes are counted locally and added to the endpoint's window every <see cref="FlushEvery"/>, for all
/// endpoints in one pipeline; each reply carries the breaker's state, so a replica that is sending to an endpoint
/// hears of a breaker another replica opened within that interval.</item>
/// <item>What a replica last heard of a breaker decides admission for <see cref="TrustFor"/>; after that, or once an
/// open breaker's time is up (a probe is due), it asks Redis again.</item>
/// </list>
/// Losing Redis state (a flush) only closes breakers; what is due lives in PostgreSQL.
/// <para>
/// Without Redis (unreachable, or no answer within <see cref="RedisTimeout"/>) the replica decides alone, from the
/// outcomes it has seen itself, until the Redis dependency answers again: the same breaker thresholds over its own
/// window. An endpoint's tasks all travel on one partition of <c>herald.deliveries</c> (keyed
/// by endpoint), so one replica sends to it at a time and its own count is the endpoint's, except while partitions
/// move. Shared state resumes where Redis left it (a restarted, empty Redis: breakers closed, windows empty).
/// </para>
/// </summary>
public sealed class EndpointGate : IAsyncDisposable
{
    private static readonly TimeSpan FlushEvery = TimeSpan.FromMilliseconds(50);
    private static readonly TimeSpan TrustFor = TimeSpan.FromMilliseconds(250);

    /// <summary>A breaker call is one small script; a Redis that has not answered by then is treated as down, so an
    /// attempt never waits longer than this on it.</summary>
    public static readonly TimeSpan RedisTimeout = TimeSpan.FromMilliseconds(250);

    // Returns {kind, wait ms}. ARGV: now (ms), probe timeout.
    private static readonly LuaScript Admit = LuaScript.Prepare("""
        local now = tonumber(@now)
        local breaker = redis.call('HMGET', @breaker, 'state', 'until')
        if breaker[1] then
          local untilMs = tonumber(breaker[2])
          if now < untilMs then return {1, untilMs - now} end
          redis.call('HSET', @breaker, 'state', 'half', 'until', now + tonumber(@probeTimeout))
          return {2, 0}
        end
        return {0, 0}
        """);

    // Adds outcomes counted since the last flush to the window and opens the breaker when the window says so.
    // Outcomes of attempts admitted before an open breaker took effect do not count. Returns {opened, open until ms or 0}.
    private static readonly LuaScript Count = LuaScript.Prepare("""
        local now = tonumber(@now)
        local breaker = redis.call('HMGET', @breaker, 'state', 'until')
        if breaker[1] then return {0, tonumber(breaker[2])} end
        local failed = tonumber(@failed)
        local total = redis.call('HINCRBY', @window, 'total', tonumber(@succeeded) + failed)
        local failedTotal = redis.call('HINCRBY', @window, 'failed', failed)
        if redis.call('PTTL', @window) < 0 then redis.call('PEXPIRE', @window, @windowMs) end
        if failed > 0 and total >= tonumber(@minimum) and failedTotal * 100 >= total * tonumber(@percent) then
          local untilMs = now + tonumber(@breakMs)
          redis.call('HSET', @breaker, 'state', 'open', 'until', untilMs)
          redis.call('DEL', @window)
          return {1, untilMs}
        end
        return {0, 0}
        """);

    // The half-open probe's outcome: success closes the breaker, failure opens it again. Returns open until ms, 0 when
    // closed, -1 when the breaker was no longer half-open (another replica settled it).
    private static readonly LuaScript Probe = LuaScript.Prepare("""
        if redis.call('HGET', @breaker, 'state') ~= 'half' then return -1 end
        if @succeeded == '1' then
          redis.call('DEL', @breaker, @window)
          return 0
        end
        local untilMs = tonumber(@now) + tonumber(@breakMs)
        redis.call('HSET', @breaker, 'state', 'open', 'until', untilMs)
        return untilMs
        """);

    private readonly ConcurrentDictionary<string, EndpointState> _endpoints = new(StringComparer.Ordinal);
    private readonly IConnectionMultiplexer _redis;
    private readonly Dependency _redisDependency;
    private readonly IOptions<DeliveryOptions> _options;
    private readonly TimeProvider _time;
    private readonly ILogger<EndpointGate> _logger;
    private readonly CancellationTokenSource _stopping = new();
    private readonly Task _flushing;

    public EndpointGate(IConnectionMultiplexer redis, Dependencies dependencies, IOptions<DeliveryOptions> options, TimeProvider time, ILogger<EndpointGate> logger)
    {
        _redis = redis;
        _redisDependency = dependencies[Dependencies.Redis];
        _options = options;
        _time = time;
        _logger = logger;
        _flushing = Task.Run(FlushContinuouslyAsync);
    }

    public ValueTask<Admission> AdmitAsync(EndpointTarget endpoint)
    {
        var state = StateOf(endpoint.Id);
        var now = _time.GetUtcNow().ToUnixTimeMilliseconds();
        if (!_redisDependency.IsAvailable) return ValueTask.FromResult(AdmitLocally(state, now));
        lock (state)
        {
            if (now - state.HeardAt < TrustFor.TotalMilliseconds)
            {
                if (state.OpenUntil > now) return ValueTask.FromResult(new Admission(AdmissionKind.BreakerOpen, TimeSpan.FromMilliseconds(state.OpenUntil - now)));
                if (state.OpenUntil == 0) return ValueTask.FromResult(new Admission(AdmissionKind.Allowed, TimeSpan.Zero));
            }
        }
        return new ValueTask<Admission>(AdmitRemotelyAsync(endpoint, state, now));
    }

    /// <summary>Counts an attempt's outcome toward its endpoint's breaker (sent to Redis with the next flush, and kept
    /// in this replica's own window for when Redis is away).</summary>
    public void Report(EndpointTarget endpoint, bool succeeded)
    {
        var state = StateOf(endpoint.Id);
        var now = _time.GetUtcNow().ToUnixTimeMilliseconds();
        var breaker = _options.Value.CircuitBreaker;
        var opened = false;
        lock (state)
        {
            if (succeeded) state.Succeeded++;
            else state.Failed++;
            if (now - state.LocalWindowStart >= breaker.Window.TotalMilliseconds) (state.LocalWindowStart, state.LocalTotal, state.LocalFailed) = (now, 0, 0);
            state.LocalTotal++;
            if (!succeeded) state.LocalFailed++;
            if (!_redisDependency.IsAvailable && !succeeded && state.LocalOpenUntil == 0
                && state.LocalTotal >= breaker.MinimumAttempts && state.LocalFailed * 100 >= state.LocalTotal * breaker.FailurePercent)
            {
                OpenLocally(state, now);
                opened = true;
            }
        }
        if (opened) _logger.LogWarning("Circuit breaker of endpoint {EndpointId} opened (this replica's own count: Redis is unavailable)", endpoint.Id);
    }

    /// <summary>Settles a half-open breaker with its probe's outcome, at once: the endpoint's deliveries wait on it.</summary>
    public async Task ReportProbeAsync(EndpointTarget endpoint, bool succeeded)
    {
        var state = StateOf(endpoint.Id);
        var now = _time.GetUtcNow().ToUnixTimeMilliseconds();
        bool local;
        lock (state) local = state.LocalProbe || !_redisDependency.IsAvailable;
        if (!local)
        {
            try
            {
                var openUntil = (long)await _redis.GetDatabase().ScriptEvaluateAsync(Probe, new
                {
                    breaker = EndpointBreakers.BreakerKey(endpoint.Id),
                    window = EndpointBreakers.WindowKey(endpoint.Id),
                    now,
                    succeeded = succeeded ? "1" : "0",
                    breakMs = (long)_options.Value.CircuitBreaker.BreakDuration.TotalMilliseconds,
                }).WaitAsync(RedisTimeout);
                if (openUntil < 0)
                {
                    // Settled elsewhere: ask Redis again at the next admission.
                    lock (state) state.HeardAt = EndpointState.Never;
                    return;
                }
                Heard(state, now, openUntil);
                _logger.LogWarning("Circuit breaker of endpoint {EndpointId} {Change}", endpoint.Id, openUntil == 0 ? "closed" : "opened");
                return;
            }
            catch (Exception exception) when (exception is RedisException or TimeoutException)
            {
                _redisDependency.ReportFailure(exception.Message);
            }
        }

        // Admitted without Redis, or Redis went away meanwhile: this replica's own breaker takes the outcome.
        lock (state)
        {
            state.LocalProbe = false;
            if (succeeded) (state.LocalOpenUntil, state.LocalTotal, state.LocalFailed) = (0, 0, 0);
            else OpenLocally(state, now);
        }
        _logger.LogWarning("Circuit breaker of endpoint {EndpointId} {Change} (this replica's own count: Redis is unavailable)",
            endpoint.Id, succeeded ? "closed" : "opened");
    }

    /// <summary>The decision without Redis: this replica's own breaker.</summary>
    private Admission AdmitLocally(EndpointState state, long now)
    {
        lock (state)
        {
            if (state.LocalOpenUntil > now) return new Admission(AdmissionKind.BreakerOpen, TimeSpan.FromMilliseconds(state.LocalOpenUntil - now));
            if (state.LocalOpenUntil != 0)
            {
                // The break is over: this attempt is the probe; the others wait for its outcome (or its timeout).
                (state.LocalOpenUntil, state.LocalProbe) = (now + ProbeTimeout, true);
                return new Admission(AdmissionKind.Probe, TimeSpan.Zero);
            }
            return new Admission(AdmissionKind.Allowed, TimeSpan.Zero);
        }
    }

    private void OpenLocally(EndpointState state, long now) =>
        (state.LocalOpenUntil, state.LocalTotal, state.LocalFailed) = (now + (long)_options.Value.CircuitBreaker.BreakDuration.TotalMilliseconds, 0, 0);

    // A probe that never reports (its Processor died) frees the half-open slot after one request timeout.
    private long ProbeTimeout => (long)_options.Value.RequestTimeout.TotalMilliseconds + 1000;

    private async Task<Admission> AdmitRemotelyAsync(EndpointTarget endpoint, EndpointState state, long now)
    {
        var probeTimeout = ProbeTimeout;
        RedisResult[] result;
        try
        {
            result = (RedisResult[])(await _redis.GetDatabase().ScriptEvaluateAsync(Admit, new
            {
                breaker = EndpointBreakers.BreakerKey(endpoint.Id),
                now,
                probeTimeout,
            }).WaitAsync(RedisTimeout))!;
        }
        catch (Exception exception) when (exception is RedisException or TimeoutException)
        {
            _redisDependency.ReportFailure(exception.Message);
            _logger.LogWarning("Circuit breaker of endpoint {EndpointId} decided by this replica alone while Redis is unavailable: {Reason}",
                endpoint.Id, exception.Message);
            return AdmitLocally(state, now);
        }
        var admission = new Admission((AdmissionKind)(int)result[0], TimeSpan.FromMilliseconds((long)result[1]));
        lock (state)
        {
            state.HeardAt = now;
            state.OpenUntil = admission.Kind switch
            {
                AdmissionKind.BreakerOpen => now + (long)admission.Wait.TotalMilliseconds,
                // This attempt is the probe: the endpoint's others wait for its outcome, as Redis has them do.
                AdmissionKind.Probe => now + probeTimeout,
                _ => 0,
            };
        }
        return admission;
    }

    private async Task FlushContinuouslyAsync()
    {
        using var timer = new PeriodicTimer(FlushEvery, _time);
        try
        {
            while (await timer.WaitForNextTickAsync(_stopping.Token))
            {
                try
                {
                    await FlushAsync();
                }
                catch (Exception exception) when (exception is not OperationCanceledException)
                {
                    // The next tick tries again; the flusher must outlive any one failure.
                    _logger.LogWarning(exception, "Could not flush circuit breaker counts");
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
        try
        {
            await FlushAsync();
        }
        catch (Exception exception) when (exception is RedisException or TimeoutException or ObjectDisposedException)
        {
            // Shutting down: the last counts are only a hint to the breaker.
            _logger.LogDebug("Could not flush the last circuit breaker counts: {Reason}", exception.Message);
        }
    }

    private async Task FlushAsync()
    {
        var breaker = _options.Value.CircuitBreaker;
        var now = _time.GetUtcNow().ToUnixTimeMilliseconds();
        if (!_redisDependency.IsAvailable)
        {
            // Counted in each replica's own window meanwhile; stale outcomes would only skew the shared one later.
            foreach (var state in _endpoints.Values)
            {
                lock (state) (state.Succeeded, state.Failed) = (0, 0);
            }
            return;
        }
        var batch = _redis.GetDatabase().CreateBatch();
        var counts = new List<(EndpointState State, Task<RedisResult> Reply)>();
        foreach (var state in _endpoints.Values)
        {
            int succeeded, failed;
            lock (state)
            {
                (succeeded, failed) = (state.Succeeded, state.Failed);
                (state.Succeeded, state.Failed) = (0, 0);
            }
            if (succeeded + failed == 0) continue;
            counts.Add((state, batch.ScriptEvaluateAsync(Count, new
            {
                breaker = EndpointBreakers.BreakerKey(state.Id),
                window = EndpointBreakers.WindowKey(state.Id),
                now,
                succeeded,
                failed,
                minimum = breaker.MinimumAttempts,
                percent = breaker.FailurePercent,
                windowMs = (long)breaker.Window.TotalMilliseconds,
                breakMs = (long)breaker.BreakDuration.TotalMilliseconds,
            })));
        }
        if (counts.Count == 0) return;
        batch.Execute();
        foreach (var (state, reply) in counts)
        {
            try
            {
                var result = (RedisResult[])(await reply.WaitAsync(RedisTimeout))!;
                Heard(state, now, (long)result[1]);
                if ((int)result[0] == 1) _logger.LogWarning("Circuit breaker of endpoint {EndpointId} opened", state.Id);
            }
            catch (Exception exception) when (exception is RedisException or TimeoutException)
            {
                // The replica's own window has these outcomes; the deliveries themselves are recorded.
                _redisDependency.ReportFailure(exception.Message);
                _logger.LogWarning("Could not report to the circuit breaker of {EndpointId}: {Reason}", state.Id, exception.Message);
                return;
            }
        }
    }

    private EndpointState StateOf(string endpointId) => _endpoints.GetOrAdd(endpointId, id => new EndpointState(id));

    private static void Heard(EndpointState state, long now, long openUntil)
    {
        lock (state) (state.HeardAt, state.OpenUntil) = (now, openUntil);
    }

    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync();
        await _flushing;
        _stopping.Dispose();
    }

    /// <summary>What this replica knows of one endpoint; guarded by its own lock.</summary>
    private sealed class EndpointState(string id)
    {
        /// <summary>A <see cref="HeardAt"/> older than any trust period (and safe to subtract from).</summary>
        public const long Never = long.MinValue / 2;

        public string Id { get; } = id;
        /// <summary>When Redis last told us the breaker's state (Unix ms); <see cref="Never"/> until it has.</summary>
        public long HeardAt { get; set; } = Never;
        /// <summary>Unix ms until which the breaker keeps attempts out; 0 = closed.</summary>
        public long OpenUntil { get; set; }
        public int Succeeded { get; set; }
        public int Failed { get; set; }

        // This replica's own view, which decides while Redis is unavailable.
        public long LocalWindowStart { get; set; }
        public int LocalTotal { get; set; }
        public int LocalFailed { get; set; }
        /// <summary>Unix ms until which the local breaker keeps attempts out (then one probe); 0 = closed.</summary>
        public long LocalOpenUntil { get; set; }
        public bool LocalProbe { get; set; }
    }
}
