using System.Text.Json;
using System.Text.RegularExpressions;
using Herald.ApiService.Messages;

namespace Herald.ApiService.EventTypes;

/// <param name="Schema">A JSON Schema (draft 2020-12). Left out of an update: kept; null: removed.</param>
/// <param name="Examples">Example payloads (a JSON array), each valid against the schema. Left out of an update: kept;
/// null or []: removed.</param>
public sealed record EventTypeInput(string? Name, string? Description, bool? Archived, JsonElement Schema, JsonElement Examples);

/// <param name="Schema">The type's JSON Schema as stored, or null.</param>
/// <param name="Examples">Example payloads, as stored.</param>
public sealed record EventTypeResponse(string Name, string Description, bool Archived, RawJson? Schema, IReadOnlyList<RawJson> Examples,
    DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt);

public static partial class EventTypeName
{
    public const string Rule = "Letters, digits, '_' and '-', in dot-separated parts (e.g. invoice.paid), at most 256 characters.";

    public static bool IsValid(string? name) => name is { Length: > 0 and <= 256 } && Pattern().IsMatch(name);

    [GeneratedRegex(@"^[a-zA-Z0-9_\-]+(\.[a-zA-Z0-9_\-]+)*\z")]
    private static partial Regex Pattern();
}
