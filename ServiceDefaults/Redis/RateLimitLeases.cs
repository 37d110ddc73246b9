using System.Collections.Concurrent;
using Herald.ServiceDefaults.Health;
using Microsoft.Extensions.Logging;
using StackExchange.Redis;

namespace Herald.ServiceDefaults.Redis;

/// <summary>
/// "At most N per second" for one key (an API key's requests, an address's failed authentications, an application's
/// or an endpoint's deliveries), a fixed one-second window counted in Redis so every replica shares it — without a Redis round trip per
/// request: a replica leases a block of the window's requests from Redis and admits from it locally.
/// <para>
/// Bounds. Redis never leases more than the limit for one window in total, so the replicas together admit at most the
/// limit per window: leasing adds no over-admission. What remains is the fixed window's own (a burst straddling a
/// boundary: up to twice the limit within one second), clock skew between replicas (each keys the window by its own
/// clock, as before) and Redis outages (below). The price is under-admission: requests a replica
/// leased but had no use for before its window ended are lost, at most one block (≤ limit / 8) per replica per window.
/// Below 16 requests per second a block is a single request, so small limits stay exact.
/// </para>
/// <para>
/// Without Redis (unreachable, or no answer within <see cref="LeaseTimeout"/>) each replica counts the window on its
/// own, at the full limit, until the Redis dependency answers again: n replicas then admit up to n × the limit. The
/// limit protects the service; an outage of Redis must neither refuse nor slow down requests.
/// </para>
/// </summary>
public sealed class RateLimitLeases(IConnectionMultiplexer redis, Dependencies dependencies, TimeProvider time, ILogger<RateLimitLeases> logger)
{
    /// <summary>A lease is one small script; a Redis that has not answered by then is treated as down.</summary>
    public static readonly TimeSpan LeaseTimeout = TimeSpan.FromMilliseconds(250);

    private readonly Dependency _redisDependency = dependencies[Dependencies.Redis];

    // Grants min(block, what is left of the window) and counts it as used; 0 once the window is spent. The key lives
    // past its second so a replica whose clock lags a little still finds the count.
    private static readonly LuaScript LeaseScript = LuaScript.Prepare("""
        local used = tonumber(redis.call('GET', @key) or '0')
        local grant = math.min(tonumber(@block), tonumber(@limit) - used)
        if grant <= 0 then return 0 end
        redis.call('INCRBY', @key, grant)
        if used == 0 then redis.call('EXPIRE', @key, 2) end
        return grant
        """);

    // Keys idle for a window are dropped once this many are held, so revoked or idle keys do not accumulate.
    private const int SweepThreshold = 10_000;

    private readonly ConcurrentDictionary<string, KeyBudget> _budgets = new(StringComparer.Ordinal);
    private long _roundTrips;

    /// <summary>Lease calls made to Redis so far (one per block, not per request).</summary>
    public long RoundTrips => Interlocked.Read(ref _roundTrips);

    /// <summary>How long until the key's next window when one was already refused in this one; null otherwise. Takes
    /// nothing from the window.</summary>
    public TimeSpan? RefusedFor(string keyId, int limit)
    {
        if (!_budgets.TryGetValue(keyId, out var budget)) return null;
        lock (budget)
        {
            var now = time.GetUtcNow();
            budget.MoveTo(now.ToUnixTimeSeconds());
            // Spent: Redis had nothing left to lease; counted locally, one past the limit was refused.
            return budget.Spent || budget.CountedLocally > limit ? DateTimeOffset.FromUnixTimeSeconds(budget.Window + 1) - now : null;
        }
    }

    /// <summary>Null when the request is admitted; otherwise how long until the key's next window.</summary>
    public async ValueTask<TimeSpan?> AcquireAsync(string keyId, int limit)
    {
        var budget = _budgets.TryGetValue(keyId, out var known) ? known : Add(keyId);
        var counted = false;
        while (true)
        {
            Task lease;
            TaskCompletionSource? mine = null;
            int block;
            long window;
            lock (budget)
            {
                // Read under the lock: whoever moved the budget to its window read the clock before we did.
                var now = time.GetUtcNow();
                budget.MoveTo(now.ToUnixTimeSeconds());
                if (!counted) (budget.Demand, counted) = (budget.Demand + 1, true);
                if (budget.Left > 0)
                {
                    budget.Left--;
                    return null;
                }
                if (budget.Spent) return DateTimeOffset.FromUnixTimeSeconds(budget.Window + 1) - now;
                if (!_redisDependency.IsAvailable)
                {
                    if (budget.CountedLocally++ < limit) return null;
                    return DateTimeOffset.FromUnixTimeSeconds(budget.Window + 1) - now;
                }
                block = 0;
                if (budget.Lease is null)
                {
                    // One lease in flight per key: concurrent requests wait for it instead of each asking Redis.
                    mine = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                    budget.Lease = mine.Task;
                    block = budget.NextBlock(limit);
                }
                lease = budget.Lease;
                window = budget.Window;
            }
            if (mine is not null) await LeaseAsync(keyId, budget, window, block, limit, mine);
            // Unanswered, Redis is now marked down: the next turn of the loop counts locally.
            await lease;
        }
    }

    private async Task LeaseAsync(string keyId, KeyBudget budget, long window, int block, int limit, TaskCompletionSource lease)
    {
        long granted = 0;
        var answered = true;
        try
        {
            Interlocked.Increment(ref _roundTrips);
            granted = (long)await LeaseScript.EvaluateAsync(redis.GetDatabase(),
                new { key = (RedisKey)$"herald:ratelimit:{keyId}:{window}", block, limit }).WaitAsync(LeaseTimeout);
        }
        catch (Exception exception) when (exception is RedisException or TimeoutException)
        {
            answered = false;
            _redisDependency.ReportFailure(exception.Message);
            logger.LogWarning("Rate limit counted locally while Redis is unavailable: {Reason}", exception.Message);
        }
        lock (budget)
        {
            if (budget.Window == window && answered)
            {
                if (granted > 0) budget.Left += (int)granted;
                else budget.Spent = true;
            }
            if (budget.Lease == lease.Task) budget.Lease = null;
        }
        lease.SetResult();
    }

    private KeyBudget Add(string keyId)
    {
        if (_budgets.Count >= SweepThreshold)
        {
            var stale = time.GetUtcNow().ToUnixTimeSeconds() - 1;
            foreach (var (id, budget) in _budgets)
            {
                if (Volatile.Read(ref budget.Window) < stale) _budgets.TryRemove(id, out _);
            }
        }
        return _budgets.GetOrAdd(keyId, static _ => new KeyBudget());
    }

    /// <summary>One key's share on this replica for its current window. Guarded by its own lock.</summary>
    private sealed class KeyBudget
    {
        public long Window;

        /// <summary>Leased and not yet used.</summary>
        public int Left;

        /// <summary>Redis has nothing more to lease this window: refuse locally until the next.</summary>
        public bool Spent;

        public Task? Lease;

        /// <summary>Requests admitted this window without Redis.</summary>
        public int CountedLocally;

        /// <summary>Requests seen this window, and in the one before: what the next window's first block aims at.</summary>
        public int Demand;
        private int _previousDemand;
        private int _lastBlock;

        public void MoveTo(long window)
        {
            if (window <= Window) return;
            _previousDemand = window == Window + 1 ? Demand : 0;
            (Window, Left, Spent, Lease, Demand, _lastBlock, CountedLocally) = (window, 0, false, null, 0, 0, 0);
        }

        /// <summary>Enough for the demand seen (the last window's, doubling within this one while it lasts), never
        /// more than an eighth of the limit, so one replica cannot strand much of the window in an unused block.</summary>
        public int NextBlock(int limit)
        {
            var cap = Math.Max(1, limit / 8);
            var wanted = Math.Max(Math.Max(1, _previousDemand), 2L * _lastBlock);
            _lastBlock = (int)Math.Min(cap, wanted);
            return _lastBlock;
        }
    }
}
