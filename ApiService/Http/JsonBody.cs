using System.Runtime.InteropServices;
using System.Text.Json;
using Herald.ApiService.Problems;
using Microsoft.AspNetCore.Http.Json;
using Microsoft.Extensions.Options;

namespace Herald.ApiService.Http;

public static class JsonBody
{
    /// <summary>Parses the request body as one JSON document, refusing (400) a body that is not JSON or holds text
    /// that cannot be stored (<see cref="StorableText.FindUnstorable"/>), before anything reads a value from it. The body
    /// is UTF-8, as JSON between systems must be, whatever charset the header names. <paramref name="allowNul"/> lets
    /// <c>\u0000</c> escapes through, for JSON that is stored verbatim.</summary>
    public static async Task<JsonDocument> ParseAsync(HttpRequest request, bool allowNul, CancellationToken cancellationToken)
    {
        if (!request.HasJsonContentType())
            throw ApiError.Invalid("body", "Send a JSON body with Content-Type: application/json.");

        JsonDocument document;
        try
        {
            document = await JsonDocument.ParseAsync(request.Body, cancellationToken: cancellationToken);
        }
        catch (JsonException exception)
        {
            throw ApiError.Invalid("body", $"Not valid JSON: {FirstSentence(exception.Message)}");
        }
        if (StorableText.FindUnstorable(JsonMarshal.GetRawUtf8Value(document.RootElement), allowNul) is { } member)
        {
            document.Dispose();
            throw ApiError.Invalid(member.Length == 0 ? "body" : member, allowNul ? StorableText.JsonRule : StorableText.Rule);
        }
        return document;
    }

    /// <summary>Reads an optional body: <paramref name="absent"/> when the request has none. A body without a
    /// Content-Length (chunked, or an HTTP/2 stream) is a body too.</summary>
    public static Task<T> ReadOptionalJsonAsync<T>(this HttpRequest request, T absent, CancellationToken cancellationToken) where T : class =>
        request.HttpContext.Features.Get<Microsoft.AspNetCore.Http.Features.IHttpRequestBodyDetectionFeature>()?.CanHaveBody == false
        || request.ContentLength == 0
            ? Task.FromResult(absent)
            : request.ReadJsonAsync<T>(cancellationToken);

    /// <summary>Reads the request body as <typeparamref name="T"/>, turning every way it can be wrong into a 400
    /// that says what is wrong (rather than the framework's empty 400 or a 500).</summary>
    public static async Task<T> ReadJsonAsync<T>(this HttpRequest request, CancellationToken cancellationToken) where T : class
    {
        using var document = await ParseAsync(request, allowNul: false, cancellationToken);
        var options = request.HttpContext.RequestServices.GetRequiredService<IOptions<JsonOptions>>().Value.SerializerOptions;
        try
        {
            return JsonSerializer.Deserialize<T>(JsonMarshal.GetRawUtf8Value(document.RootElement), options)
                   ?? throw ApiError.Invalid("body", "A JSON object is required.");
        }
        catch (JsonException exception)
        {
            throw ApiError.Invalid(string.IsNullOrEmpty(exception.Path) || exception.Path == "$" ? "body" : exception.Path.TrimStart('$', '.'),
                $"Not valid JSON for this request: {FirstSentence(exception.Message)}");
        }
    }

    private static string FirstSentence(string message)
    {
        var end = message.IndexOf(". ", StringComparison.Ordinal);
        return end < 0 ? message : message[..(end + 1)];
    }
}
