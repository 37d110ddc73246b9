namespace Herald.Processor.Delivery;

/// <summary>Configuration section <c>Herald:Delivery</c>.</summary>
public sealed class DeliveryOptions
{
    public const string Section = "Herald:Delivery";

    public TimeSpan RequestTimeout { get; set; } = TimeSpan.FromSeconds(15);

    public string UserAgent { get; set; } = "Herald-Webhooks/1.0";

    /// <summary>Whether webhook requests carry a W3C <c>traceparent</c>, continuing the message's trace at the receiver.
    /// Off by default: trace ids are Herald's (and its callers') internals, and endpoints belong to third parties.</summary>
    public bool PropagateTraceContext { get; set; }

    /// <summary>Delay before each attempt, the first included, as durations like <c>5s 5m 2h</c>. Its length is the
    /// number of attempts; after the last one fails the delivery is dead-lettered.</summary>
    public string Schedule { get; set; } = "0s 5s 5m 30m 2h 5h 10h 10h";

    /// <summary>Each scheduled delay varies by up to this fraction either way, so retries of a burst spread out.</summary>
    public double Jitter { get; set; } = 0.2;

    /// <summary>How long an enqueued attempt may take before PostgreSQL considers it lost and enqueues it again.
    /// A worker drops a task older than this, since by then the scheduler owns it.</summary>
    public TimeSpan Lease { get; set; } = TimeSpan.FromMinutes(2);

    /// <summary>How often each Processor looks for due retries, and how many it claims at once.</summary>
    public TimeSpan SchedulerInterval { get; set; } = TimeSpan.FromSeconds(1);

    public int SchedulerBatchSize { get; set; } = 500;

    /// <summary>Concurrent requests to one endpoint, across one Processor.</summary>
    public int EndpointConcurrency { get; set; } = 8;

    /// <summary>Concurrent requests for one application: its bounded share, so one tenant's backlog cannot take every
    /// slot of <see cref="MaxConcurrency"/>.</summary>
    public int ApplicationConcurrency { get; set; } = 64;

    /// <summary>Concurrent requests to one destination host (its name as the endpoint URL gives it), across one
    /// Processor: however many endpoints, of however many applications, point at one third party, Herald cannot be
    /// aimed at it with more than this per replica.</summary>
    public int HostConcurrency { get; set; } = 64;

    public int MaxConcurrency { get; set; } = 256;

    /// <summary>A task that would wait longer than this for its endpoint (queue length × the endpoint's recent request
    /// time ÷ its concurrency) is deferred to PostgreSQL instead, so a slow endpoint cannot fill the Processor while a
    /// fast one keeps its backlog in memory.</summary>
    public TimeSpan MaxEndpointWait { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Tasks held for one endpoint beyond this are deferred whatever its speed.</summary>
    public int MaxQueuedPerEndpoint { get; set; } = 2000;

    /// <summary>Unfinished records across all partitions; above it the consumer pauses fetching.</summary>
    public int MaxInFlight { get; set; } = 4000;

    public CircuitBreakerOptions CircuitBreaker { get; set; } = new();

    /// <summary>An endpoint that has failed for this long without one success is disabled.</summary>
    public TimeSpan DisableAfter { get; set; } = TimeSpan.FromDays(5);

    /// <summary>CIDR networks delivery may connect to although they are internal (e.g. 127.0.0.0/8 for a local
    /// receiver). Empty by default: endpoints never reach the network Herald runs in.</summary>
    public List<string> AllowedNetworks { get; set; } = [];
}

/// <summary>Per endpoint, shared by every Processor through Redis.</summary>
public sealed class CircuitBreakerOptions
{
    /// <summary>Opens when at least <see cref="FailurePercent"/> % of at least <see cref="MinimumAttempts"/>
    /// attempts within <see cref="Window"/> failed.</summary>
    public int FailurePercent { get; set; } = 50;

    public int MinimumAttempts { get; set; } = 10;

    public TimeSpan Window { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>How long it stays open before one probe is let through (half-open).</summary>
    public TimeSpan BreakDuration { get; set; } = TimeSpan.FromSeconds(30);
}
