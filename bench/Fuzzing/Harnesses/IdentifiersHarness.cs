using System.Text;
using Herald.ApiService.Auth;
using Herald.ApiService.EventTypes;
using Herald.Messages;

namespace Herald.Fuzzing.Harnesses;

/// <summary>
/// Identifiers clients send back: message and other sortable ids (<see cref="SortableId.TimeOf"/>, which reads the time
/// out of an id), API keys (<see cref="ApiKeyDirectory.IsIssuedKeyShape"/>, before any lookup) and event type names
/// (<see cref="EventTypeName.IsValid"/>). A time read from an id is one an id can hold: the lowest id of that
/// millisecond reads back as it.
/// </summary>
public sealed class IdentifiersHarness : IHarness
{
    public string Name => "identifiers";

    public string Parses => "message ids (sortable ids), API key shapes, event type names";

    public void Run(ReadOnlySpan<byte> input)
    {
        var text = Encoding.UTF8.GetString(input);

        if (SortableId.TimeOf(text) is { } time)
        {
            var separator = text.LastIndexOf('_');
            var prefix = separator < 0 ? "msg" : text[..separator];
            var lowest = SortableId.Lowest(prefix, time);
            InvariantBroken.Unless(SortableId.TimeOf(lowest) == time, $"'{text}' holds {time:O}, but {lowest} reads back differently");
            InvariantBroken.Unless(string.CompareOrdinal(lowest, SortableId.New(prefix, time)) <= 0, "the lowest id of a time sorts above a new one");
        }

        if (ApiKeyDirectory.IsIssuedKeyShape(text))
            InvariantBroken.Unless(text.Length < 64 && text.All(char.IsAscii), "an API key shape that is not short ASCII");

        if (EventTypeName.IsValid(text))
            InvariantBroken.Unless(text.Length <= 256 && text.All(c => char.IsAsciiLetterOrDigit(c) || c is '_' or '-' or '.'),
                $"event type '{text}' outside its rule");
    }
}
