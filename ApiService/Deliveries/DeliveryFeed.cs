using System.Collections.Immutable;
using System.Runtime.CompilerServices;
using System.Text.Json;
using System.Threading.Channels;
using Herald.ApiService.Problems;
using Herald.Deliveries;
using Herald.ServiceDefaults.Shutdown;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace Herald.ApiService.Deliveries;

/// <summary>
/// The live attempt outcomes the Processors publish on <see cref="DeliveryOutcome.Channel"/>, through one Redis
/// subscription per API process (made when the first stream opens), fanned out to every open stream. Each stream has a
/// bounded buffer that drops its oldest outcome when full, so one slow reader never holds up the feed or the others.
/// </summary>
public sealed class DeliveryFeed : IAsyncDisposable
{
    /// <summary>Outcomes buffered per stream before the oldest are dropped.</summary>
    public const int StreamCapacity = 1024;

    private readonly IConnectionMultiplexer _redis;
    private readonly ILogger<DeliveryFeed> _logger;
    private readonly Lock _gate = new();

    // Copy-on-write, so dispatching an outcome reads it without taking the lock.
    private volatile ImmutableDictionary<string, ImmutableArray<DeliverySubscription>> _streams =
        ImmutableDictionary.Create<string, ImmutableArray<DeliverySubscription>>(StringComparer.Ordinal);
    private Task<ChannelMessageQueue>? _subscription;
    private bool _closed;

    public DeliveryFeed(IConnectionMultiplexer redis, IHostApplicationLifetime lifetime, IOptions<ShutdownOptions> shutdown, ILogger<DeliveryFeed> logger)
    {
        _redis = redis;
        _logger = logger;
        // Streams never end on their own: close them when intake stops (after the drain delay, while readiness already
        // says 503), or Kestrel would wait for them until the shutdown timeout.
        var drainDelay = shutdown.Value.DrainDelay;
        lifetime.ApplicationStopping.Register(() => _ = Task.Delay(drainDelay).ContinueWith(_ => Close(), TaskScheduler.Default));
    }

    /// <summary>Opens a stream of the application's outcomes (only one endpoint's, if given). It receives everything
    /// published after this returns; dispose it to close it.</summary>
    public async Task<DeliverySubscription> SubscribeAsync(string applicationId, string? endpointId, CancellationToken cancellationToken)
    {
        await EnsureSubscribedAsync(cancellationToken);
        var stream = new DeliverySubscription(this, applicationId, endpointId, StreamCapacity);
        lock (_gate)
        {
            if (_closed) throw new ApiError(ApiErrorKind.Unavailable, "The service is shutting down; reconnect to another instance.");
            _streams = _streams.SetItem(applicationId, _streams.GetValueOrDefault(applicationId, []).Add(stream));
        }
        return stream;
    }

    internal void Remove(DeliverySubscription stream)
    {
        lock (_gate)
        {
            if (_streams.TryGetValue(stream.ApplicationId, out var streams))
            {
                streams = streams.Remove(stream);
                _streams = streams.IsEmpty ? _streams.Remove(stream.ApplicationId) : _streams.SetItem(stream.ApplicationId, streams);
            }
        }
        if (stream.Dropped > 0)
            _logger.LogWarning("A live delivery stream of {ApplicationId} read too slowly and missed {Dropped} outcomes", stream.ApplicationId, stream.Dropped);
    }

    private async Task EnsureSubscribedAsync(CancellationToken cancellationToken)
    {
        Task<ChannelMessageQueue> subscription;
        lock (_gate) subscription = _subscription ??= SubscribeToRedisAsync();
        try
        {
            await subscription.WaitAsync(cancellationToken);
        }
        catch (Exception exception) when (subscription.IsFaulted)
        {
            // Forget the failed attempt so the next stream tries again.
            lock (_gate)
            {
                if (_subscription == subscription) _subscription = null;
            }
            if (exception is RedisException)
                throw new ApiError(ApiErrorKind.Unavailable, "Live outcomes are unavailable right now; retry shortly.") { RetryAfter = TimeSpan.FromSeconds(1) };
            throw;
        }
    }

    private async Task<ChannelMessageQueue> SubscribeToRedisAsync()
    {
        var queue = await _redis.GetSubscriber().SubscribeAsync(RedisChannel.Literal(DeliveryOutcome.Channel));
        // OnMessage handles one message at a time, in order, so each stream sees outcomes in publication order.
        queue.OnMessage(message => Dispatch(message.Message));
        _logger.LogInformation("Subscribed to live delivery outcomes on {Channel}", DeliveryOutcome.Channel);
        return queue;
    }

    private void Dispatch(RedisValue message)
    {
        var streams = _streams;
        if (streams.IsEmpty) return;
        DeliveryOutcome outcome;
        try
        {
            outcome = DeliveryOutcome.FromUtf8Bytes(((ReadOnlyMemory<byte>)message).Span);
        }
        catch (JsonException exception)
        {
            _logger.LogWarning("Ignored a delivery outcome that is not valid JSON: {Reason}", exception.Message);
            return;
        }
        // Records are not null-checked when deserialized; an outcome without an application belongs to no stream.
        if (outcome.ApplicationId is null || !streams.TryGetValue(outcome.ApplicationId, out var listeners)) return;
        foreach (var stream in listeners) stream.Offer(outcome);
    }

    private void Close()
    {
        ImmutableDictionary<string, ImmutableArray<DeliverySubscription>> streams;
        lock (_gate)
        {
            _closed = true;
            streams = _streams;
            _streams = _streams.Clear();
        }
        foreach (var stream in streams.Values.SelectMany(s => s)) stream.Complete();
        if (!streams.IsEmpty) _logger.LogInformation("Shutdown: closed {Count} live delivery streams", streams.Values.Sum(s => s.Length));
    }

    public async ValueTask DisposeAsync()
    {
        Close();
        Task<ChannelMessageQueue>? subscription;
        lock (_gate) subscription = _subscription;
        if (subscription is { IsCompletedSuccessfully: true })
        {
            try
            {
                await subscription.Result.UnsubscribeAsync();
            }
            catch (Exception exception) when (exception is RedisException or ObjectDisposedException)
            {
                // The connection is closing too; the server drops the subscription with it.
            }
        }
    }
}

/// <summary>One open stream of <see cref="DeliveryFeed"/>: a bounded buffer that drops its oldest outcome when full.</summary>
public sealed class DeliverySubscription : IDisposable
{
    private readonly DeliveryFeed _feed;
    private readonly Channel<DeliveryOutcome> _buffer;
    private long _dropped;
    private int _disposed;

    internal DeliverySubscription(DeliveryFeed feed, string applicationId, string? endpointId, int capacity)
    {
        _feed = feed;
        ApplicationId = applicationId;
        EndpointId = endpointId;
        _buffer = Channel.CreateBounded<DeliveryOutcome>(
            new BoundedChannelOptions(capacity) { FullMode = BoundedChannelFullMode.DropOldest, SingleReader = true },
            _ => Interlocked.Increment(ref _dropped));
    }

    public string ApplicationId { get; }

    public string? EndpointId { get; }

    /// <summary>Outcomes dropped because the reader fell <see cref="DeliveryFeed.StreamCapacity"/> behind.</summary>
    public long Dropped => Interlocked.Read(ref _dropped);

    internal void Offer(DeliveryOutcome outcome)
    {
        // Never waits: with DropOldest a full buffer makes room.
        if (EndpointId is null || string.Equals(EndpointId, outcome.EndpointId, StringComparison.Ordinal)) _buffer.Writer.TryWrite(outcome);
    }

    internal void Complete() => _buffer.Writer.TryComplete();

    /// <summary>Outcomes as they arrive, and null after <paramref name="idle"/> without one (for keep-alives); ends
    /// when the stream is closed or <paramref name="cancellationToken"/> is cancelled.</summary>
    public async IAsyncEnumerable<DeliveryOutcome?> ReadAllAsync(TimeSpan idle, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        Ready ready;
        while ((ready = await WaitAsync(idle, cancellationToken)) != Ready.Closed)
        {
            if (ready == Ready.Idle)
            {
                yield return null;
                continue;
            }
            while (_buffer.Reader.TryRead(out var outcome)) yield return outcome;
        }
    }

    private enum Ready { Outcome, Idle, Closed }

    private async Task<Ready> WaitAsync(TimeSpan idle, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(idle);
        try
        {
            return await _buffer.Reader.WaitToReadAsync(timeout.Token) ? Ready.Outcome : Ready.Closed;
        }
        catch (OperationCanceledException)
        {
            // The client leaving ends the stream normally; only the idle timer means "keep alive".
            return cancellationToken.IsCancellationRequested ? Ready.Closed : Ready.Idle;
        }
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1) return;
        _feed.Remove(this);
        Complete();
    }
}
