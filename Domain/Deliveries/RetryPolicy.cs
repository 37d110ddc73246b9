using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Herald.Deliveries;

/// <summary>
/// How an application's or an endpoint's deliveries are retried: the waits after each failed attempt, how many attempts
/// in all, and how long one attempt may take. Every field is optional: an endpoint's fields override its application's,
/// which override the Processor's configuration (<c>Herald:Delivery</c>). Stored as JSON (<c>retry_policy</c>).
/// </summary>
/// <param name="Delays">The wait after attempt n fails before attempt n + 1, as durations like <c>5s</c>, <c>10m</c>,
/// <c>2h</c>. With more attempts than delays, the last delay repeats.</param>
/// <param name="MaxAttempts">Attempts in all, the first included; after the last one fails the delivery is
/// dead-lettered. Unset: one more than the delays.</param>
/// <param name="Timeout">How long one attempt may take, e.g. <c>10s</c>.</param>
public sealed record RetryPolicy(string[]? Delays = null, int? MaxAttempts = null, string? Timeout = null)
{
    public const int MaxDelays = 50;
    public const int MaxAttemptsLimit = 50;
    public static readonly TimeSpan MaxDelay = TimeSpan.FromDays(7);
    public static readonly TimeSpan MaxTotalDelay = TimeSpan.FromDays(30);
    public static readonly TimeSpan MinTimeout = TimeSpan.FromSeconds(1);

    /// <summary>No policy may let an attempt run longer than this: a claim on an attempt lasts the Processor's request
    /// timeout (15 s by default) and some, so a longer attempt could be taken for a dead one and sent twice.</summary>
    public static readonly TimeSpan MaxTimeout = TimeSpan.FromSeconds(15);

    [JsonIgnore]
    public bool IsEmpty => Delays is null && MaxAttempts is null && Timeout is null;

    /// <summary>What is wrong with it, by field name under <paramref name="field"/> (empty: nothing).</summary>
    public IReadOnlyList<(string Field, string Error)> Problems(string field)
    {
        var problems = new List<(string, string)>();
        if (Delays is { } delays)
        {
            if (delays.Length is 0 or > MaxDelays) problems.Add(($"{field}.delays", $"From 1 to {MaxDelays} durations; omit it to inherit."));
            var total = TimeSpan.Zero;
            foreach (var delay in delays)
            {
                if (!TryParseDuration(delay, out var value) || value > MaxDelay)
                {
                    problems.Add(($"{field}.delays", $"'{Shorten(delay)}' is not a duration from 0s to {MaxDelay.TotalDays:0}d, like 500ms, 5s, 10m, 2h or 1d."));
                    break;
                }
                total += value;
            }
            if (total > MaxTotalDelay) problems.Add(($"{field}.delays", $"The delays add up to more than {MaxTotalDelay.TotalDays:0} days."));
        }
        if (MaxAttempts is < 1 or > MaxAttemptsLimit) problems.Add(($"{field}.maxAttempts", $"From 1 to {MaxAttemptsLimit}."));
        if (Timeout is not null && (!TryParseDuration(Timeout, out var timeout) || timeout < MinTimeout || timeout > MaxTimeout))
            problems.Add(($"{field}.timeout", $"A duration from {MinTimeout.TotalSeconds:0}s to {MaxTimeout.TotalSeconds:0}s, like 10s."));
        return problems;
    }

    /// <summary>The same policy with every duration written the one way (<c>90s</c> stays <c>90s</c>; <c>1.50s</c>
    /// becomes <c>1500ms</c>), so what is stored and shown is unambiguous. Call only on a valid policy.</summary>
    public RetryPolicy Normalized() => new(
        Delays?.Select(d => Format(ParseDuration(d))).ToArray(),
        MaxAttempts,
        Timeout is null ? null : Format(ParseDuration(Timeout)));

    /// <summary>The policy's fields, each taken from the first of the policies that sets it.</summary>
    public static RetryPolicy Merge(params RetryPolicy?[] policies) => new(
        policies.Select(p => p?.Delays).FirstOrDefault(d => d is not null),
        policies.Select(p => p?.MaxAttempts).FirstOrDefault(a => a is not null),
        policies.Select(p => p?.Timeout).FirstOrDefault(t => t is not null));

    public string ToJson() => JsonSerializer.Serialize(this, RetryPolicyJson.Default.RetryPolicy);

    public static RetryPolicy? FromJson(string? json) =>
        json is null ? null : JsonSerializer.Deserialize(json, RetryPolicyJson.Default.RetryPolicy);

    /// <summary>Parses <c>500ms</c>, <c>5s</c>, <c>5m</c>, <c>2h</c> or <c>1d</c> (a decimal number and a unit).</summary>
    public static TimeSpan ParseDuration(string text) =>
        TryParseDuration(text, out var value) ? value : throw new FormatException($"'{text}' is not a duration like 5s, 5m or 2h.");

    public static bool TryParseDuration(string? text, out TimeSpan value)
    {
        value = default;
        if (string.IsNullOrEmpty(text) || text.Length > 32) return false;
        var unit = text.EndsWith("ms", StringComparison.Ordinal) ? "ms" : text[^1..];
        double scale = unit switch { "ms" => 1, "s" => 1_000, "m" => 60_000, "h" => 3_600_000, "d" => 86_400_000, _ => 0 };
        if (scale == 0) return false;
        if (!double.TryParse(text[..^unit.Length], NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var number)) return false;
        var milliseconds = number * scale;
        if (!double.IsFinite(milliseconds) || milliseconds > TimeSpan.FromDays(365).TotalMilliseconds) return false;
        value = TimeSpan.FromMilliseconds(Math.Round(milliseconds));
        return true;
    }

    public static string Format(TimeSpan value) =>
        value.TotalMilliseconds % 1000 != 0 ? $"{value.TotalMilliseconds:0}ms"
        : value.TotalSeconds % 60 != 0 ? $"{value.TotalSeconds:0}s"
        : value.TotalMinutes % 60 != 0 ? $"{value.TotalMinutes:0}m"
        : value.TotalHours % 24 != 0 ? $"{value.TotalHours:0}h"
        : $"{value.TotalDays:0}d";

    private static string Shorten(string? text) => text is null ? "null" : text.Length > 40 ? text[..40] + "…" : text;
}

[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(RetryPolicy))]
internal sealed partial class RetryPolicyJson : JsonSerializerContext;
