using System.Threading.Channels;
using Microsoft.Extensions.Logging;

namespace Herald.Database;

/// <summary>
/// Group commit: concurrent callers queue their items and a few writers each take whatever has queued (up to a batch)
/// and commit it with one statement — one round trip and one transaction for many callers. Under light load a batch
/// is a single item and adds no delay. A caller's task completes once its batch has committed.
/// </summary>
/// <remarks>
/// A failed batch is handed to <c>onFailure</c>, which says what to do: retry it after a delay (a dependency that will
/// come back), commit its items one by one (one bad row must not fail the others), or fail every item.
/// </remarks>
public sealed class GroupCommit<TItem, TResult> : IAsyncDisposable
{
    private readonly Channel<Pending> _queue = Channel.CreateUnbounded<Pending>();
    private readonly Func<IReadOnlyList<TItem>, Task<IReadOnlyList<TResult>>> _commit;
    private readonly Func<Exception, int, FailedBatch> _onFailure;
    private readonly int _maxBatchSize;
    private readonly ILogger _logger;
    private readonly Task[] _writers;

    /// <param name="commit">Commits a batch; returns one result per item, in order.</param>
    /// <param name="onFailure">Given the exception and how many times this batch has failed, what to do next.</param>
    public GroupCommit(Func<IReadOnlyList<TItem>, Task<IReadOnlyList<TResult>>> commit, Func<Exception, int, FailedBatch> onFailure,
        int writers, int maxBatchSize, ILogger logger)
    {
        _commit = commit;
        _onFailure = onFailure;
        _maxBatchSize = maxBatchSize;
        _logger = logger;
        // Not flowing the context keeps the writers out of the trace of whichever caller happened to construct this.
        using (ExecutionContext.SuppressFlow())
        {
            _writers = [.. Enumerable.Range(0, Math.Max(1, writers)).Select(_ => Task.Run(WriteAsync))];
        }
    }

    /// <summary>Queues the item; completes with its result once committed, or with the batch's failure.</summary>
    public Task<TResult> SubmitAsync(TItem item)
    {
        var pending = new Pending(item);
        if (!_queue.Writer.TryWrite(pending)) return Task.FromException<TResult>(new ObjectDisposedException(nameof(GroupCommit<TItem, TResult>)));
        return pending.Result.Task;
    }

    private async Task WriteAsync()
    {
        var batch = new List<Pending>(_maxBatchSize);
        while (await _queue.Reader.WaitToReadAsync())
        {
            batch.Clear();
            while (batch.Count < _maxBatchSize && _queue.Reader.TryRead(out var pending)) batch.Add(pending);
            if (batch.Count > 0) await CommitAsync(batch);
        }
    }

    private async Task CommitAsync(IReadOnlyList<Pending> batch)
    {
        for (var failures = 0; ; failures++)
        {
            Exception failure;
            try
            {
                var results = await _commit([.. batch.Select(p => p.Item)]);
                for (var i = 0; i < batch.Count; i++) batch[i].Result.TrySetResult(results[i]);
                return;
            }
            catch (Exception exception)
            {
                failure = exception;
            }

            var next = _onFailure(failure, failures + 1);
            switch (next.Action)
            {
                case FailedBatchAction.Retry:
                    _logger.LogWarning("Could not commit {Count} items ({Reason}); retrying in {Delay}", batch.Count, failure.Message, next.Delay);
                    await Task.Delay(next.Delay);
                    continue;
                case FailedBatchAction.OneByOne when batch.Count > 1:
                    foreach (var pending in batch) await CommitAsync([pending]);
                    return;
                case FailedBatchAction.Drop:
                    foreach (var pending in batch) pending.Result.TrySetResult(default!);
                    return;
                default:
                    foreach (var pending in batch) pending.Result.TrySetException(next.Exception ?? failure);
                    return;
            }
        }
    }

    /// <summary>Commits what is queued, then stops.</summary>
    public async ValueTask DisposeAsync()
    {
        _queue.Writer.TryComplete();
        await Task.WhenAll(_writers);
    }

    private sealed class Pending(TItem item)
    {
        public TItem Item { get; } = item;
        public TaskCompletionSource<TResult> Result { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}

public enum FailedBatchAction
{
    /// <summary>Fail every item of the batch with <see cref="FailedBatch.Exception"/> (or the batch's own).</summary>
    Fail,
    /// <summary>Try the same batch again after <see cref="FailedBatch.Delay"/>.</summary>
    Retry,
    /// <summary>Commit each item alone, so only the bad one fails (a one-item batch then fails).</summary>
    OneByOne,
    /// <summary>Complete every item with the result type's default: there was nothing left to commit them against.</summary>
    Drop,
}

/// <summary>What a <see cref="GroupCommit{TItem, TResult}"/> does with a batch that failed.</summary>
public readonly record struct FailedBatch(FailedBatchAction Action, TimeSpan Delay = default, Exception? Exception = null)
{
    public static FailedBatch Fail(Exception? exception = null) => new(FailedBatchAction.Fail, Exception: exception);

    public static FailedBatch RetryAfter(TimeSpan delay) => new(FailedBatchAction.Retry, delay);

    public static FailedBatch OneByOne { get; } = new(FailedBatchAction.OneByOne);

    public static FailedBatch Drop { get; } = new(FailedBatchAction.Drop);

    /// <summary>Retries with a delay doubling from 100 ms up to <paramref name="max"/>: for a dependency that comes back.</summary>
    public static FailedBatch Backoff(int failures, TimeSpan max) =>
        RetryAfter(TimeSpan.FromMilliseconds(Math.Min(max.TotalMilliseconds, 100 * (1 << Math.Min(failures - 1, 10)))));
}
