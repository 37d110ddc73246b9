using System.Collections.Concurrent;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Herald.Tests.Harness;

/// <summary>How the receiver answers at one path: a status, after a delay, with an optional Retry-After and JSON body.</summary>
public sealed record Reply(int Status, TimeSpan Delay = default, string? RetryAfter = null, string? Body = null)
{
    public static readonly Reply Ok = new(204);
}

public sealed record ReceivedWebhook(string Path, IReadOnlyDictionary<string, string> Headers, string Body, DateTimeOffset ReceivedAt, int Status = 204)
{
    public string? MessageId => Headers.GetValueOrDefault("webhook-id");

    public HeaderDictionary HeaderDictionary()
    {
        var headers = new HeaderDictionary();
        foreach (var (name, value) in Headers) headers[name] = value;
        return headers;
    }
}

/// <summary>A real HTTP server on loopback that plays a customer's webhook endpoint and records what arrives.</summary>
public sealed class WebhookReceiver : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly ConcurrentQueue<ReceivedWebhook> _received = new();
    private readonly ConcurrentDictionary<string, Func<ReceivedWebhook, Reply>> _replies = new(StringComparer.Ordinal);

    public WebhookReceiver()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        _app = builder.Build();
        _app.MapPost("/{**path}", async (HttpContext context) =>
        {
            using var reader = new StreamReader(context.Request.Body);
            var body = await reader.ReadToEndAsync();
            var webhook = new ReceivedWebhook(
                context.Request.Path,
                context.Request.Headers.ToDictionary(h => h.Key.ToLowerInvariant(), h => h.Value.ToString()),
                body,
                DateTimeOffset.UtcNow);
            var reply = _replies.TryGetValue(webhook.Path, out var decide) ? decide(webhook) : Reply.Ok;
            _received.Enqueue(webhook with { Status = reply.Status });
            if (reply.Delay > TimeSpan.Zero) await Task.Delay(reply.Delay, context.RequestAborted);
            if (reply.RetryAfter is not null) context.Response.Headers.RetryAfter = reply.RetryAfter;
            return reply.Body is null ? Results.StatusCode(reply.Status) : Results.Content(reply.Body, "application/json", statusCode: reply.Status);
        });
    }

    public Uri Url { get; private set; } = null!;

    public IReadOnlyCollection<ReceivedWebhook> Received => _received;

    /// <summary>A distinct path on this receiver, so one test's endpoint is told apart from another's.</summary>
    public Uri UrlFor(string name) => new(Url, $"/webhooks/{name}");

    /// <summary>Answers requests to <paramref name="url"/>'s path as <paramref name="reply"/> decides, from now on.</summary>
    public void ReplyAt(Uri url, Func<ReceivedWebhook, Reply> reply) => _replies[url.AbsolutePath] = reply;

    public void ReplyAt(Uri url, Reply reply) => ReplyAt(url, _ => reply);

    /// <summary>Every request that arrived at <paramref name="url"/>'s path, in order of arrival.</summary>
    public IReadOnlyList<ReceivedWebhook> ReceivedAt(Uri url) => [.. _received.Where(w => w.Path == url.AbsolutePath)];

    public IReadOnlyList<ReceivedWebhook> ReceivedFor(string messageId) =>
        [.. _received.Where(w => w.Headers.GetValueOrDefault("webhook-id") == messageId)];

    public async Task StartAsync()
    {
        await _app.StartAsync();
        var address = _app.Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>().Addresses.First();
        Url = new Uri(new Uri(address), "/webhooks");
    }

    /// <summary>Waits for the webhook carrying <paramref name="messageId"/> (at <paramref name="path"/>, if given).</summary>
    public async Task<ReceivedWebhook> WaitForAsync(string messageId, TimeSpan timeout, string? path = null)
    {
        bool Matches(ReceivedWebhook w) => w.Headers.GetValueOrDefault("webhook-id") == messageId && (path is null || w.Path == path);
        var deadline = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < deadline)
        {
            if (_received.FirstOrDefault(Matches) is { } webhook) return webhook;
            await Task.Delay(20);
        }
        throw new TimeoutException($"No webhook for {messageId} arrived within {timeout}; {_received.Count} others did.");
    }

    public async ValueTask DisposeAsync() => await _app.DisposeAsync();
}
