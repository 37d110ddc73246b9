namespace Herald.ApiService.Problems;

/// <summary>PostgreSQL text cannot hold NUL, and UTF-8 cannot encode a lone surrogate: such strings are refused
/// up front (400) instead of failing deep in a query.</summary>
public static class StorableText
{
    public const string Rule = "Must not contain NUL characters or unpaired surrogates.";

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
