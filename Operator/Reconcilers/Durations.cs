using System.Globalization;

namespace Herald.Operator.Reconcilers;

/// <summary>
/// Herald's durations (<c>500ms</c>, <c>5s</c>, <c>10m</c>, <c>2h</c>, <c>1d</c>). Herald stores a retry policy's
/// durations rewritten one way (<c>60s</c> comes back as <c>1m</c>), so drift is judged on their values, not their text.
/// </summary>
public static class Durations
{
    public static TimeSpan? Parse(string? text)
    {
        if (string.IsNullOrEmpty(text)) return null;
        var unit = text.EndsWith("ms", StringComparison.Ordinal) ? "ms" : text[^1..];
        double scale = unit switch { "ms" => 1, "s" => 1_000, "m" => 60_000, "h" => 3_600_000, "d" => 86_400_000, _ => 0 };
        if (scale == 0 || !double.TryParse(text[..^unit.Length], NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var number)) return null;
        var milliseconds = number * scale;
        // As Herald rounds: to the millisecond.
        return double.IsFinite(milliseconds) && milliseconds < TimeSpan.MaxValue.TotalMilliseconds ? TimeSpan.FromMilliseconds(Math.Round(milliseconds)) : null;
    }

    /// <summary>The same duration: by value when both parse, else by text (Herald would have refused either).</summary>
    public static bool Same(string? a, string? b) => Parse(a) is { } x && Parse(b) is { } y ? x == y : a == b;
}
