using Microsoft.Extensions.Options;

namespace Herald.Processor.Delivery;

/// <summary>
/// The concurrency budget of one Processor: a few requests at a time per endpoint, a bounded share per application,
/// a bounded share per destination host (however many endpoints and tenants point at it), and a ceiling for all. A lane exists only while it has work, so memory follows activity, not the endpoint count.
/// </summary>
public sealed class DeliveryLanes(IOptions<DeliveryOptions> options)
{
    private readonly Dictionary<string, Lane> _endpoints = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Lane> _applications = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Lane> _hosts = new(StringComparer.OrdinalIgnoreCase);

    public SemaphoreSlim All { get; } = new(options.Value.MaxConcurrency);

    public Lane EnterEndpoint(string endpointId) => Enter(_endpoints, endpointId, options.Value.EndpointConcurrency);

    public Lane EnterApplication(string applicationId) => Enter(_applications, applicationId, options.Value.ApplicationConcurrency);

    public Lane EnterHost(string host) => Enter(_hosts, host, options.Value.HostConcurrency);

    private static Lane Enter(Dictionary<string, Lane> lanes, string key, int concurrency)
    {
        lock (lanes)
        {
            if (!lanes.TryGetValue(key, out var lane)) lanes[key] = lane = new Lane(lanes, key, concurrency);
            lane.Users++;
            return lane;
        }
    }

    /// <summary>One endpoint's, application's or host's slots. Dispose to leave it.</summary>
    public sealed class Lane(Dictionary<string, Lane> owner, string key, int concurrency) : IDisposable
    {
        private double _averageSeconds;

        public SemaphoreSlim Slots { get; } = new(concurrency);

        /// <summary>Tasks in this lane, sending or waiting.</summary>
        public int Users { get; internal set; }

        /// <summary>How long the last task to join would wait for a slot, from the lane's recent request times.</summary>
        public TimeSpan ExpectedWait => TimeSpan.FromSeconds(Volatile.Read(ref _averageSeconds) * Users / concurrency);

        /// <summary>Feeds a finished request's duration into the lane's moving average.</summary>
        public void Observe(TimeSpan duration)
        {
            lock (this) _averageSeconds = _averageSeconds == 0 ? duration.TotalSeconds : 0.9 * _averageSeconds + 0.1 * duration.TotalSeconds;
        }

        public void Dispose()
        {
            lock (owner)
            {
                if (--Users == 0) owner.Remove(key);
            }
        }
    }
}
