using System.Text.RegularExpressions;
using Herald.ApiService.Problems;

namespace Herald.ApiService.Routing;

/// <summary>Channels (which endpoints a message is for) and tags (how it is found again): short names from a small
/// alphabet, so a list of them travels and is stored as one comma-joined string.</summary>
public static partial class RoutingLabels
{
    public const int MaxChannels = 10;
    public const int MaxTags = 10;
    public const string Rule = "1 to 128 characters: letters, digits, '.', '_', ':' and '-'.";

    public static bool IsValid(string? label) => label is not null && Label().IsMatch(label);

    /// <summary>Checks a list of labels under <paramref name="field"/>; returns it without repeats (null stays null).</summary>
    public static string[]? Validate(string[]? labels, string field, int max, Validation validation)
    {
        if (labels is null) return null;
        if (labels.Length is 0 or > 100 || labels.Distinct(StringComparer.Ordinal).Count() > max)
            validation.Add(field, $"From 1 to {max} names; omit it for none.");
        foreach (var label in labels.Where(l => !IsValid(l)).Take(5))
            validation.Add(field, $"'{(label is null ? "null" : label.Length > 60 ? label[..60] + "…" : label)}': {Rule}");
        return [.. labels.Distinct(StringComparer.Ordinal)];
    }

    [GeneratedRegex(@"^[A-Za-z0-9._:\-]{1,128}\z")]
    private static partial Regex Label();
}
