using System.Globalization;
using System.Net;
using Herald.Deliveries;
using Microsoft.Extensions.Options;

namespace Herald.Processor.Delivery;

/// <summary>What an attempt's outcome means for its delivery: its next <see cref="DeliveryStatus"/>, and when the next
/// attempt is due.</summary>
public sealed record DeliveryDecision(string Status, DateTimeOffset? NextAttemptAt);

/// <summary>The retry schedule: when the next attempt is due after a failed one, or that there is none.</summary>
public sealed class RetrySchedule
{
    private readonly IReadOnlyList<TimeSpan> _delays;
    private readonly double _jitter;

    public RetrySchedule(IOptions<DeliveryOptions> options) : this(Parse(options.Value.Schedule), options.Value.Jitter)
    {
    }

    public RetrySchedule(IReadOnlyList<TimeSpan> delays, double jitter)
    {
        if (delays.Count == 0) throw new ArgumentException("The retry schedule needs at least one attempt.", nameof(delays));
        _delays = delays;
        _jitter = jitter;
    }

    public int Attempts => _delays.Count;

    public TimeSpan Longest => _delays.Max();

    /// <param name="attempt">The attempt that just finished, 1-based.</param>
    public DeliveryDecision Decide(int attempt, Attempt outcome, DateTimeOffset now, Random? random = null)
    {
        if (outcome.Succeeded) return new(DeliveryStatus.Succeeded, null);
        // 410 Gone: the receiver says the endpoint is gone for good; it is disabled and its deliveries wait.
        if (outcome.HttpStatus == (int)HttpStatusCode.Gone) return new(DeliveryStatus.Paused, null);
        if (attempt >= _delays.Count) return new(DeliveryStatus.Failed, null);
        return new(DeliveryStatus.Pending, now + DelayAfter(attempt, outcome, random ?? Random.Shared));
    }

    private TimeSpan DelayAfter(int attempt, Attempt outcome, Random random)
    {
        // The receiver named its time: honour it exactly, within the schedule's bounds.
        if (outcome.RetryAfter is { } asked && outcome.HttpStatus is 429 or 503)
            return TimeSpan.FromTicks(Math.Clamp(asked.Ticks, TimeSpan.FromSeconds(1).Ticks, Longest.Ticks));
        var scheduled = _delays[attempt];
        return scheduled * (1 + _jitter * (2 * random.NextDouble() - 1));
    }

    /// <summary>No delay may be longer: a delivery waiting a year for its next attempt is a typo, not a schedule.</summary>
    public static readonly TimeSpan MaxDelay = TimeSpan.FromDays(365);

    /// <summary>Parses <c>"0s 5s 5m 30m 2h"</c> (units ms, s, m, h, d; separated by spaces or commas).</summary>
    public static IReadOnlyList<TimeSpan> Parse(string schedule)
    {
        var delays = new List<TimeSpan>();
        foreach (var part in schedule.Split([' ', ','], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var unit = part.EndsWith("ms", StringComparison.Ordinal) ? "ms" : part[^1..];
            if (!double.TryParse(part[..^unit.Length], NumberStyles.Float, CultureInfo.InvariantCulture, out var value) || !double.IsFinite(value) || value < 0)
                throw new FormatException($"'{part}' in the retry schedule is not a duration like 5s, 5m or 2h.");
            var milliseconds = value * unit switch
            {
                "ms" => 1,
                "s" => 1_000,
                "m" => 60_000,
                "h" => 3_600_000,
                "d" => 86_400_000,
                _ => throw new FormatException($"'{part}' in the retry schedule has no unit (ms, s, m, h or d)."),
            };
            if (milliseconds > MaxDelay.TotalMilliseconds)
                throw new FormatException($"'{part}' in the retry schedule is longer than {MaxDelay.TotalDays:0} days.");
            delays.Add(TimeSpan.FromMilliseconds(milliseconds));
        }
        return delays;
    }
}
