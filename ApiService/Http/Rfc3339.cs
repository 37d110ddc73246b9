using System.Globalization;
using System.Text.RegularExpressions;

namespace Herald.ApiService.Http;

/// <summary>RFC 3339 date-times, e.g. <c>2026-11-25T12:00:00Z</c> or <c>2026-11-25T13:00:00.5+01:00</c>.</summary>
public static partial class Rfc3339
{
    public const string Rule = "An RFC 3339 date and time with an offset, e.g. 2026-11-25T12:00:00Z.";

    /// <summary>Stricter than <see cref="DateTimeOffset.TryParse(string, out DateTimeOffset)"/>: the offset is required,
    /// since a time without one means a different instant on every server.</summary>
    public static bool TryParse(string? text, out DateTimeOffset value)
    {
        value = default;
        return text is not null && Format().IsMatch(text)
            && DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.None, out value);
    }

    [GeneratedRegex(@"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d{1,7})?([Zz]|[+-]\d{2}:\d{2})\z")]
    private static partial Regex Format();
}
