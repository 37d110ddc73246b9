using System.Globalization;
using System.Text;
using Herald.ApiService.Http;
using Herald.ApiService.Messages;
using Herald.ApiService.Problems;

namespace Herald.Fuzzing.Harnesses;

/// <summary>
/// A list request's query string (<c>?limit=…&amp;iterator=…&amp;eventType=…&amp;before=…&amp;after=…</c>) as the
/// list handlers read it: <see cref="PageRequest.From"/> and <see cref="MessageFilter.From"/>, then every value as an
/// RFC 3339 time (<see cref="Rfc3339.TryParse"/>, the recover call's <c>since</c>). An accepted page reads back the same
/// from its own values, and an accepted time has an offset and reads back as the same instant.
/// </summary>
public sealed class ListQueryHarness : IHarness
{
    public string Name => "list-query";

    public string Parses => "list query values: limit, iterator, eventType, before/after; RFC 3339 times";

    public void Run(ReadOnlySpan<byte> input)
    {
        // Kestrel hands the target over as bytes it decoded as Latin-1 where they are not ASCII.
        var query = Encoding.Latin1.GetString(input);
        var request = Requests.Query(query).Request;

        if (Refusable(() => PageRequest.From(request)) is { } page)
        {
            InvariantBroken.Unless(page.Limit is >= 1 and <= PageRequest.MaxLimit, $"accepted limit {page.Limit}");
            InvariantBroken.Unless(page.Iterator is null or { Length: > 0 and <= 256 }, "accepted an empty or overlong iterator");
            var again = PageRequest.Parse(page.Limit.ToString(CultureInfo.InvariantCulture), page.Iterator);
            InvariantBroken.Unless(again == page, $"{page} reads back as {again}");
        }

        if (Refusable(() => MessageFilter.From(request)) is { } filter)
            InvariantBroken.Unless(filter.EventTypes is null || filter.EventTypes.All(t => t.Length > 0), "kept an empty event type");

        foreach (var (_, values) in request.Query)
            foreach (var value in values)
                Rfc3339Reads(value);
        Rfc3339Reads(query);
    }

    private static void Rfc3339Reads(string? text)
    {
        if (!Rfc3339.TryParse(text, out var time)) return;
        var written = time.ToString("yyyy-MM-dd'T'HH:mm:ss.fffffffzzz", CultureInfo.InvariantCulture);
        InvariantBroken.Unless(Rfc3339.TryParse(written, out var again) && again == time && again.Offset == time.Offset,
            $"'{text}' was read as {written}, which does not read back the same");
    }

    // The one refusal the handlers have for a bad query value: ApiError.Invalid, a 400.
    private static T? Refusable<T>(Func<T> parse) where T : class
    {
        try
        {
            return parse();
        }
        catch (ApiError error) when (error.Kind == ApiErrorKind.Validation)
        {
            return null;
        }
    }
}
