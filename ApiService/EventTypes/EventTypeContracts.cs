using System.Text.RegularExpressions;

namespace Herald.ApiService.EventTypes;

public sealed record EventTypeInput(string? Name, string? Description, bool? Archived);

public sealed record EventTypeResponse(string Name, string Description, bool Archived, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt);

public static partial class EventTypeName
{
    public const string Rule = "Letters, digits, '_' and '-', in dot-separated parts (e.g. invoice.paid), at most 256 characters.";

    public static bool IsValid(string? name) => name is { Length: > 0 and <= 256 } && Pattern().IsMatch(name);

    [GeneratedRegex(@"^[a-zA-Z0-9_\-]+(\.[a-zA-Z0-9_\-]+)*\z")]
    private static partial Regex Pattern();
}
