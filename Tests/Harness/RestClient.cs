using System.Net;
using System.Net.Http.Json;
using System.Text.Json;

namespace Herald.Tests.Harness;

/// <summary>Herald's REST API over real HTTP, with the small conveniences tests repeat: JSON in, JSON out, status kept.</summary>
public sealed class RestClient(HttpClient http) : IDisposable
{
    public HttpClient Http { get; } = http;

    public async Task<(HttpStatusCode Status, JsonElement Body, HttpResponseMessage Response)> SendAsync(
        HttpMethod method, string path, object? body = null, string? idempotencyKey = null)
    {
        using var request = new HttpRequestMessage(method, path);
        if (body is string raw) request.Content = new StringContent(raw, System.Text.Encoding.UTF8, "application/json");
        else if (body is byte[] bytes) request.Content = new ByteArrayContent(bytes) { Headers = { ContentType = new("application/json") } };
        else if (body is not null) request.Content = JsonContent.Create(body);
        if (idempotencyKey is not null) request.Headers.Add("idempotency-key", idempotencyKey);
        var response = await Http.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        var json = text.Length == 0 ? default : JsonDocument.Parse(text).RootElement.Clone();
        return (response.StatusCode, json, response);
    }

    public Task<(HttpStatusCode Status, JsonElement Body, HttpResponseMessage Response)> GetAsync(string path) => SendAsync(HttpMethod.Get, path);

    public Task<(HttpStatusCode Status, JsonElement Body, HttpResponseMessage Response)> PostAsync(string path, object? body, string? idempotencyKey = null) =>
        SendAsync(HttpMethod.Post, path, body, idempotencyKey);

    public Task<(HttpStatusCode Status, JsonElement Body, HttpResponseMessage Response)> PutAsync(string path, object? body) => SendAsync(HttpMethod.Put, path, body);

    public Task<(HttpStatusCode Status, JsonElement Body, HttpResponseMessage Response)> DeleteAsync(string path) => SendAsync(HttpMethod.Delete, path);

    /// <summary>POSTs and insists on <paramref name="expected"/>, showing the body when it is something else.</summary>
    public async Task<JsonElement> PostOkAsync(string path, object body, HttpStatusCode expected = HttpStatusCode.Created)
    {
        var (status, json, _) = await PostAsync(path, body);
        Assert.True(status == expected, $"POST {path}: {(int)status} {json}");
        return json;
    }

    public async Task<string> CreateApplicationAsync(string name = "Acme", object? settings = null)
    {
        var app = await PostOkAsync("/api/v1/apps", settings ?? new { name });
        return app.GetProperty("id").GetString()!;
    }

    public async Task<string> CreateApplicationKeyAsync(string applicationId)
    {
        var key = await PostOkAsync($"/api/v1/apps/{applicationId}/api-keys", new { name = "test" });
        return key.GetProperty("key").GetString()!;
    }

    public async Task<(string Id, string Secret)> CreateEndpointAsync(string applicationId, Uri url, string[]? eventTypes = null)
    {
        var endpoint = await PostOkAsync($"/api/v1/apps/{applicationId}/endpoints", new { url, eventTypes });
        var id = endpoint.GetProperty("id").GetString()!;
        var (_, secret, _) = await GetAsync($"/api/v1/apps/{applicationId}/endpoints/{id}/secret");
        return (id, secret.GetProperty("key").GetString()!);
    }

    public async Task<string> SendMessageAsync(string applicationId, string eventType, object payload, string? eventId = null)
    {
        var message = await PostOkAsync($"/api/v1/apps/{applicationId}/messages", new { eventType, eventId, payload }, HttpStatusCode.Accepted);
        return message.GetProperty("id").GetString()!;
    }

    public void Dispose() => Http.Dispose();
}
