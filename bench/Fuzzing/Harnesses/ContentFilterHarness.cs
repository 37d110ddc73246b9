using System.Text.Json;
using Herald.ApiService.Routing;

namespace Herald.Fuzzing.Harnesses;

/// <summary>
/// An endpoint's content <c>filter</c> through <see cref="ContentFilter.Compile"/>, which turns user JSON into the
/// SQL/JSON path PostgreSQL evaluates at fan-out. Its documented refusal is a <see cref="ContentFilterException"/> (a
/// 400 on <c>filter</c>). What it accepts must stay inside the language: every string the user wrote is a quoted
/// literal (no quote or backslash escapes it, no control character reaches PostgreSQL raw), no construct that costs more
/// than a pass over the payload (<c>like_regex</c>, <c>**</c>) appears, and the same filter always compiles the same way.
/// The suite also hands every corpus filter's path to PostgreSQL (<c>ContentFilterCorpusTests</c>).
/// </summary>
public sealed class ContentFilterHarness : IHarness
{
    public string Name => "content-filter";

    public string Parses => "an endpoint's content filter (JSON) compiled to an SQL/JSON path";

    public void Run(ReadOnlySpan<byte> input)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(input.ToArray(), new JsonDocumentOptions { MaxDepth = 64 });
        }
        catch (JsonException)
        {
            return;
        }
        using (document)
        {
            string path;
            try
            {
                path = ContentFilter.Compile(document.RootElement);
            }
            catch (ContentFilterException)
            {
                return;
            }
            InvariantBroken.Unless(path == ContentFilter.Compile(document.RootElement), "compiled the same filter two ways");
            InvariantBroken.Unless(path.StartsWith('$') || path.StartsWith('(') || path.StartsWith("!", StringComparison.Ordinal) || path.StartsWith("exists(", StringComparison.Ordinal),
                $"compiled to something that is not a predicate: {path}");
            var outside = Outside(path);
            InvariantBroken.Unless(!outside.Contains("like_regex", StringComparison.Ordinal) && !outside.Contains("**", StringComparison.Ordinal)
                                   && !outside.Contains('@') && !outside.Contains('?'), $"compiled to a construct outside the language: {path}");
            InvariantBroken.Unless(!path.Any(c => c < ' '), "a control character reached the path unescaped");
        }
    }

    /// <summary>The SQL/JSON path <paramref name="input"/> compiles to, or null when it is refused.</summary>
    public static string? CompiledPath(ReadOnlySpan<byte> input)
    {
        try
        {
            using var document = JsonDocument.Parse(input.ToArray());
            return ContentFilter.Compile(document.RootElement);
        }
        catch (Exception exception) when (exception is JsonException or ContentFilterException)
        {
            return null;
        }
    }

    /// <summary>The path with every string literal removed, checking on the way that each one closes: what remains is
    /// only what Herald wrote.</summary>
    public static string Outside(string path)
    {
        var outside = new System.Text.StringBuilder();
        for (var i = 0; i < path.Length; i++)
        {
            if (path[i] != '"')
            {
                outside.Append(path[i]);
                continue;
            }
            for (i++; ; i++)
            {
                InvariantBroken.Unless(i < path.Length, $"a string literal never closes: {path}");
                if (path[i] == '\\') i++;
                else if (path[i] == '"') break;
            }
        }
        return outside.ToString();
    }
}
