using Microsoft.Extensions.Caching.Memory;

namespace Herald.ApiService.Caching;

/// <summary>
/// Remembers what the hot path reads per request (an application's settings, who an API key belongs to). A value is
/// fresh for a while; after that the remembered value is still answered — for at most the stale period — while one
/// background load brings it up to date, so a request never waits on PostgreSQL for something it saw recently, and a
/// PostgreSQL that hangs slows down no request that has a remembered answer.
/// </summary>
public sealed class RefreshingCache(IMemoryCache cache, TimeProvider time, ILogger<RefreshingCache> logger)
{
    public async ValueTask<T> GetAsync<T>(string key, Func<CancellationToken, Task<T>> load, TimeSpan fresh, TimeSpan stale, CancellationToken cancellationToken)
    {
        var now = time.GetTimestamp();
        if (cache.TryGetValue(key, out Entry<T>? entry) && entry is not null)
        {
            if (time.GetElapsedTime(entry.LoadedAt, now) >= fresh) Refresh(key, entry, load, stale);
            return entry.Value;
        }
        var value = await load(cancellationToken);
        Set(key, value, stale);
        return value;
    }

    /// <summary>The value remembered for <paramref name="key"/>, without loading it.</summary>
    public bool TryGet<T>(string key, out T? value)
    {
        if (cache.TryGetValue(key, out Entry<T>? entry) && entry is not null)
        {
            value = entry.Value;
            return true;
        }
        value = default;
        return false;
    }

    /// <summary>Forgets a value at once (a key revoked here; other replicas catch up within the fresh period).</summary>
    public void Remove(string key) => cache.Remove(key);

    private void Refresh<T>(string key, Entry<T> entry, Func<CancellationToken, Task<T>> load, TimeSpan stale)
    {
        // One refresh per entry at a time; not tied to any request, which may have left by the time it finishes.
        if (Interlocked.Exchange(ref entry.Refreshing, 1) == 1) return;
        _ = Task.Run(async () =>
        {
            try
            {
                Set(key, await load(CancellationToken.None), stale);
            }
            catch (Exception exception)
            {
                Interlocked.Exchange(ref entry.Refreshing, 0);
                logger.LogDebug("Could not refresh {Key}; answering what was last read: {Reason}", key, exception.Message);
            }
        });
    }

    // Every entry counts one toward the cache's size limit (Herald:Auth:CacheEntries). An answer of "nothing there" (an
    // unknown key) is the first to go when the cache is full, so a flood of made-up keys cannot push out real ones.
    private void Set<T>(string key, T value, TimeSpan stale) =>
        cache.Set(key, new Entry<T>(value, time.GetTimestamp()), new MemoryCacheEntryOptions
        {
            AbsoluteExpirationRelativeToNow = stale,
            Size = 1,
            Priority = value is null ? CacheItemPriority.Low : CacheItemPriority.Normal,
        });

    private sealed class Entry<T>(T value, long loadedAt)
    {
        public T Value { get; } = value;
        public long LoadedAt { get; } = loadedAt;
        public int Refreshing;
    }
}
