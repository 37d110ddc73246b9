using System.Net;
using Herald.Deliveries;
using Microsoft.Extensions.Options;

namespace Herald.Processor.Delivery;

/// <summary>What an attempt's outcome means for its delivery: its next <see cref="DeliveryStatus"/>, and when the next
/// attempt is due.</summary>
public sealed record DeliveryDecision(string Status, DateTimeOffset? NextAttemptAt);

/// <summary>A retry schedule: when the next attempt is due after a failed one, or that there is none. The Processor's
/// configured schedule is the default; an application or endpoint <see cref="RetryPolicy"/> makes its own
/// (<see cref="With"/>).</summary>
public sealed class RetrySchedule
{
    private readonly IReadOnlyList<TimeSpan> _retryDelays;
    private readonly double _jitter;

    public RetrySchedule(IOptions<DeliveryOptions> options)
        : this(Parse(options.Value.Schedule), options.Value.Jitter, options.Value.RequestTimeout)
    {
    }

    /// <param name="delays">Delay before each attempt, the first included (its own delay is not used here: a first
    /// attempt goes when its message is fanned out).</param>
    public RetrySchedule(IReadOnlyList<TimeSpan> delays, double jitter, TimeSpan? timeout = null)
        : this(delays.Count == 0 ? throw new ArgumentException("The retry schedule needs at least one attempt.", nameof(delays)) : [.. delays.Skip(1)],
               delays.Count, jitter, timeout ?? TimeSpan.FromSeconds(15))
    {
    }

    private RetrySchedule(IReadOnlyList<TimeSpan> retryDelays, int attempts, double jitter, TimeSpan timeout)
    {
        _retryDelays = retryDelays;
        Attempts = attempts;
        _jitter = jitter;
        Timeout = timeout;
    }

    /// <summary>Attempts in all, the first included.</summary>
    public int Attempts { get; }

    /// <summary>How long one attempt may take.</summary>
    public TimeSpan Timeout { get; }

    /// <summary>A receiver's Retry-After is honoured from this up: sooner would retry a 429 in a tight loop.</summary>
    public static readonly TimeSpan RetryAfterFloor = TimeSpan.FromSeconds(1);

    /// <summary>The longest wait the schedule allows before a retry, and so for a Retry-After (never under its floor).</summary>
    public TimeSpan Longest => _retryDelays.Count == 0 ? RetryAfterFloor : Max(_retryDelays.Max(), RetryAfterFloor);

    /// <summary>This schedule with the fields <paramref name="policy"/> sets replaced (itself when it sets none). A
    /// policy's timeout can only shorten the Processor's, which bounds how long a claim on an attempt lasts.</summary>
    public RetrySchedule With(RetryPolicy? policy)
    {
        if (policy is null || policy.IsEmpty) return this;
        var delays = policy.Delays is { } given ? [.. given.Select(RetryPolicy.ParseDuration)] : _retryDelays;
        var attempts = policy.MaxAttempts ?? (policy.Delays is null ? Attempts : delays.Count + 1);
        var timeout = policy.Timeout is { } t ? Min(RetryPolicy.ParseDuration(t), Timeout) : Timeout;
        return new RetrySchedule(delays, attempts, _jitter, timeout);
    }

    /// <param name="attempt">The attempt that just finished, 1-based.</param>
    public DeliveryDecision Decide(int attempt, Attempt outcome, DateTimeOffset now, Random? random = null)
    {
        if (outcome.Succeeded) return new(DeliveryStatus.Succeeded, null);
        // 410 Gone: the receiver says the endpoint is gone for good; it is disabled and its deliveries wait.
        if (outcome.HttpStatus == (int)HttpStatusCode.Gone) return new(DeliveryStatus.Paused, null);
        if (attempt >= Attempts) return new(DeliveryStatus.Failed, null);
        return new(DeliveryStatus.Pending, now + DelayAfter(attempt, outcome, random ?? Random.Shared));
    }

    private TimeSpan DelayAfter(int attempt, Attempt outcome, Random random)
    {
        // The receiver named its time: honour it exactly, within the schedule's bounds.
        if (outcome.RetryAfter is { } asked && outcome.HttpStatus is 429 or 503)
            return TimeSpan.FromTicks(Math.Clamp(asked.Ticks, RetryAfterFloor.Ticks, Longest.Ticks));
        // With more attempts than delays, the last delay repeats.
        var scheduled = _retryDelays.Count == 0 ? TimeSpan.Zero : _retryDelays[Math.Min(attempt, _retryDelays.Count) - 1];
        return scheduled * (1 + _jitter * (2 * random.NextDouble() - 1));
    }

    /// <summary>No delay may be longer: a delivery waiting a year for its next attempt is a typo, not a schedule.</summary>
    public static readonly TimeSpan MaxDelay = TimeSpan.FromDays(365);

    /// <summary>Parses <c>"0s 5s 5m 30m 2h"</c> (durations as <see cref="RetryPolicy.TryParseDuration"/> reads them,
    /// separated by spaces or commas).</summary>
    public static IReadOnlyList<TimeSpan> Parse(string schedule)
    {
        var delays = new List<TimeSpan>();
        foreach (var part in schedule.Split([' ', ','], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (!RetryPolicy.TryParseDuration(part, out var delay))
                throw new FormatException($"'{part}' in the retry schedule is not a duration of at most {MaxDelay.TotalDays:0} days, like 5s, 5m or 2h.");
            delays.Add(delay);
        }
        return delays;
    }

    private static TimeSpan Min(TimeSpan a, TimeSpan b) => a < b ? a : b;

    private static TimeSpan Max(TimeSpan a, TimeSpan b) => a > b ? a : b;
}
