using System.Text.Json;
using Herald.ApiService.Endpoints;
using Herald.ApiService.Http;
using Herald.ApiService.Problems;
using Herald.ApiService.Routing;

namespace Herald.Fuzzing.Harnesses;

/// <summary>
/// An endpoint's content <c>filter</c>, read as create/update-endpoint reads its body, through
/// <see cref="ContentFilter.Compile"/>, which turns user JSON into the
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
        if (Read(input) is not { } filter) return;
        string path;
        try
        {
            path = ContentFilter.Compile(filter);
        }
        catch (ContentFilterException)
        {
            return;
        }
        InvariantBroken.Unless(path == ContentFilter.Compile(filter), "compiled the same filter two ways");
        InvariantBroken.Unless(path.StartsWith('$') || path.StartsWith('(') || path.StartsWith('!') || path.StartsWith("exists(", StringComparison.Ordinal),
            $"compiled to something that is not a predicate: {path}");
        var outside = Outside(path);
        InvariantBroken.Unless(!outside.Contains("like_regex", StringComparison.Ordinal) && !outside.Contains("**", StringComparison.Ordinal)
                               && !outside.Contains('@') && !outside.Contains('?'), $"compiled to a construct outside the language: {path}");
        InvariantBroken.Unless(!path.Any(c => c < ' '), "a control character reached the path unescaped");
    }

    /// <summary>The input as an endpoint body's <c>filter</c>, read the way create/update-endpoint reads it (its text
    /// checked first); null when that refuses it.</summary>
    private static JsonElement? Read(ReadOnlySpan<byte> input)
    {
        byte[] body = [.. "{\"filter\":"u8, .. input, .. "}"u8];
        try
        {
            return Requests.Json(body).Request.ReadJsonAsync<EndpointInput>(CancellationToken.None).GetAwaiter().GetResult().Filter;
        }
        catch (ApiError error) when (error.Kind == ApiErrorKind.Validation)
        {
            return null;
        }
    }

    /// <summary>The SQL/JSON path <paramref name="input"/> compiles to, or null when it is refused.</summary>
    public static string? CompiledPath(ReadOnlySpan<byte> input)
    {
        try
        {
            return Read(input) is { } filter ? ContentFilter.Compile(filter) : null;
        }
        catch (ContentFilterException)
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
