using System.Text.Json;
using Herald.ApiService.Problems;
using Microsoft.AspNetCore.Http.Json;
using Microsoft.Extensions.Options;

namespace Herald.ApiService.Http;

public static class JsonBody
{
    /// <summary>Reads the request body as <typeparamref name="T"/>, turning every way it can be wrong into a 400
    /// that says what is wrong (rather than the framework's empty 400 or a 500).</summary>
    public static async Task<T> ReadJsonAsync<T>(this HttpRequest request, CancellationToken cancellationToken) where T : class
    {
        if (!request.HasJsonContentType())
            throw ApiError.Invalid("body", "Send a JSON body with Content-Type: application/json.");
        var options = request.HttpContext.RequestServices.GetRequiredService<IOptions<JsonOptions>>().Value.SerializerOptions;
        try
        {
            return await request.ReadFromJsonAsync<T>(options, cancellationToken)
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
