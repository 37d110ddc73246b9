using System.Buffers;
using System.Text.Json;
using System.Text.Unicode;

namespace Herald.ApiService.Problems;

/// <summary>PostgreSQL text cannot hold NUL, and UTF-8 cannot encode a lone surrogate: such strings are refused
/// up front (400) instead of failing deep in a query, or later when a response is written.</summary>
public static class StorableText
{
    public const string Rule = "Must be valid UTF-8 text without NUL characters or unpaired surrogates.";

    /// <summary>For JSON stored verbatim (a message's payload), where a <c>\u0000</c> escape is kept as written.</summary>
    public const string JsonRule = @"Must be valid UTF-8 JSON, and no string in it may hold an unpaired surrogate (such as \ud800 alone).";

    public static bool IsStorable(string? text)
    {
        if (text is null) return true;
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            if (c == '\0') return false;
            if (char.IsHighSurrogate(c))
            {
                if (i + 1 >= text.Length || !char.IsLowSurrogate(text[i + 1])) return false;
                i++;
            }
            else if (char.IsLowSurrogate(c)) return false;
        }
        return true;
    }

    public static Validation RequireStorable(this Validation validation, string field, string? text)
    {
        if (!IsStorable(text)) validation.Add(field, Rule);
        return validation;
    }

    /// <summary>
    /// Where UTF-8 <paramref name="json"/> holds text that cannot be stored or read back: invalid UTF-8, a string or
    /// property name whose escapes decode to an unpaired surrogate, or (unless <paramref name="allowNul"/>) to NUL.
    /// Returns the top-level property it is in ("" when it is not inside one, or is a top-level name itself), or null
    /// when there is none. <paramref name="json"/> must already have parsed as JSON.
    /// </summary>
    public static string? FindUnstorable(ReadOnlySpan<byte> json, bool allowNul)
    {
        // The common case costs two vectorized scans: valid UTF-8 throughout, and no \u escape (only those can decode
        // to a surrogate or NUL; JSON forbids raw control characters in strings).
        if (Utf8.IsValid(json) && json.IndexOf(@"\u"u8) < 0) return null;

        var reader = new Utf8JsonReader(json);
        var member = "";
        while (reader.Read())
        {
            if (reader.TokenType is not (JsonTokenType.PropertyName or JsonTokenType.String)) continue;
            var isTopLevelName = reader.TokenType == JsonTokenType.PropertyName && reader.CurrentDepth == 1;
            if (!IsStorable(ref reader, allowNul)) return isTopLevelName ? "" : member;
            if (isTopLevelName) member = reader.GetString()!;
        }
        return null;
    }

    private static bool IsStorable(ref Utf8JsonReader reader, bool allowNul)
    {
        var raw = reader.ValueSpan;
        if (!Utf8.IsValid(raw)) return false;
        if (!reader.ValueIsEscaped || raw.IndexOf(@"\u"u8) < 0) return true;
        // Unescaping refuses an unpaired surrogate (it has no UTF-8 form); unescaped text is never longer than escaped.
        byte[]? rented = null;
        Span<byte> unescaped = raw.Length <= 256 ? stackalloc byte[256] : (rented = ArrayPool<byte>.Shared.Rent(raw.Length));
        try
        {
            var length = reader.CopyString(unescaped);
            return allowNul || !unescaped[..length].Contains((byte)0);
        }
        catch (InvalidOperationException)
        {
            return false;
        }
        finally
        {
            if (rented is not null) ArrayPool<byte>.Shared.Return(rented);
        }
    }
}

/// <summary>Route values and query strings reach SQL as parameters too; refuse the ones PostgreSQL cannot store.</summary>
internal sealed class StorableInputFilter : IEndpointFilter
{
    public ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        // Runs on every API request: allocates nothing unless something is refused.
        var request = context.HttpContext.Request;
        Validation? refused = null;
        foreach (var (name, value) in request.RouteValues)
        {
            if (!StorableText.IsStorable(value as string)) (refused ??= new()).Add(name, StorableText.Rule);
        }
        if (request.QueryString.HasValue)
        {
            foreach (var (name, values) in request.Query)
                foreach (var value in values)
                    if (!StorableText.IsStorable(value)) (refused ??= new()).Add(name, StorableText.Rule);
        }
        refused?.ThrowIfInvalid();
        return next(context);
    }
}
