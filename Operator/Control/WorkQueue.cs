using System.Threading.Channels;

namespace Herald.Operator.Control;

/// <summary>
/// client-go's work queue: keys, not events. A key added while queued is queued once; added while being processed, it
/// is processed again after (never twice at once). Failures come back after an exponential back-off per key
/// (<c>base × 2^failures</c>, capped), reset by <see cref="Forget"/>.
/// </summary>
public sealed class WorkQueue<TKey>(TimeSpan baseBackoff, TimeSpan maxBackoff, TimeProvider? time = null) where TKey : notnull
{
    private readonly Lock _gate = new();
    private readonly HashSet<TKey> _dirty = [];
    private readonly HashSet<TKey> _processing = [];
    private readonly Dictionary<TKey, int> _failures = [];
    private readonly Channel<TKey> _ready = Channel.CreateUnbounded<TKey>();
    private readonly TimeProvider _time = time ?? TimeProvider.System;

    /// <summary>Keys waiting (queued or to be queued again once processed).</summary>
    public int Depth { get { lock (_gate) return _dirty.Count; } }

    public void Add(TKey key)
    {
        lock (_gate)
        {
            if (!_dirty.Add(key)) return;
            if (!_processing.Contains(key)) _ready.Writer.TryWrite(key);
        }
    }

    public void AddAfter(TKey key, TimeSpan delay)
    {
        if (delay <= TimeSpan.Zero) { Add(key); return; }
        _ = Task.Delay(delay, _time).ContinueWith(_ => Add(key), TaskScheduler.Default);
    }

    /// <summary>Back to the queue after this key's back-off; returns the delay chosen.</summary>
    public TimeSpan AddRateLimited(TKey key)
    {
        int failures;
        lock (_gate) failures = _failures[key] = _failures.GetValueOrDefault(key) + 1;
        var delay = TimeSpan.FromTicks((long)Math.Min(maxBackoff.Ticks, baseBackoff.Ticks * Math.Pow(2, failures - 1)));
        AddAfter(key, delay);
        return delay;
    }

    public void Forget(TKey key)
    {
        lock (_gate) _failures.Remove(key);
    }

    public int Failures(TKey key)
    {
        lock (_gate) return _failures.GetValueOrDefault(key);
    }

    /// <summary>The next key; the caller owns it until <see cref="Done"/>.</summary>
    public async Task<TKey> TakeAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            var key = await _ready.Reader.ReadAsync(cancellationToken);
            lock (_gate)
            {
                if (!_dirty.Remove(key)) continue;
                _processing.Add(key);
                return key;
            }
        }
    }

    public void Done(TKey key)
    {
        lock (_gate)
        {
            _processing.Remove(key);
            if (_dirty.Contains(key)) _ready.Writer.TryWrite(key);
        }
    }
}
