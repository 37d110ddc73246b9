using System.Collections.Concurrent;
using System.Diagnostics;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Herald.Bench.Delivery;

/// <summary>How the receiver answers one webhook: a status, after a delay.</summary>
public sealed record Reply(int Status, TimeSpan Delay = default)
{
    public static readonly Reply Ok = new(204);
}

/// <summary>One webhook the receiver answered: where, which message, when it arrived (Stopwatch timestamp), and how
/// it was answered.</summary>
public readonly record struct Webhook(string Path, string MessageId, long ArrivedAt, Reply Reply);

/// <summary>A webhook receiver on loopback that answers 204 at once (unless told otherwise) and notes when each
/// message arrived.</summary>
public sealed class Receiver : IAsyncDisposable
{
    private readonly WebApplication _app;
    private long _count;

    private Receiver(WebApplication app, Uri url) => (_app, Url) = (app, url);

    public Uri Url { get; }

    /// <summary>Requests received so far, at every path.</summary>
    public long Count => Interlocked.Read(ref _count);

    /// <summary>Stopwatch timestamps of the first and the latest request.</summary>
    public long First { get; private set; }

    public long Last { get; private set; }

    /// <summary>Arrival time (Stopwatch timestamp) per webhook-id, for requests to <c>/latency</c>.</summary>
    public ConcurrentDictionary<string, long> Arrivals { get; } = new(StringComparer.Ordinal);

    /// <summary>Decides each answer as a webhook arrives; 204 at once unless set (the fault matrix makes endpoints
    /// fail or stall).</summary>
    public Func<Reply> Replies { get; set; } = () => Reply.Ok;

    /// <summary>Told of every webhook once answered, from the request's thread.</summary>
    public Action<Webhook>? Answered { get; set; }

    public static async Task<Receiver> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        var app = builder.Build();
        Receiver? receiver = null;
        app.MapPost("/{**path}", async (HttpContext context) =>
        {
            var now = Stopwatch.GetTimestamp();
            // Read the body, as any receiver verifying a signature must.
            await context.Request.Body.CopyToAsync(Stream.Null);
            var reply = receiver!.Replies();
            // A slow receiver does not notice that the sender gave up: it finishes its work and answers anyway.
            if (reply.Delay > TimeSpan.Zero) await Task.Delay(reply.Delay, CancellationToken.None);
            var id = context.Request.Headers["webhook-id"].ToString();
            receiver.Note(now, context.Request.Path, id);
            receiver.Answered?.Invoke(new Webhook(context.Request.Path, id, now, reply));
            return Results.StatusCode(reply.Status);
        });
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>().Addresses.First();
        receiver = new Receiver(app, new Uri(address));
        return receiver;
    }

    public void Reset()
    {
        Interlocked.Exchange(ref _count, 0);
        First = Last = 0;
        Arrivals.Clear();
    }

    private void Note(long now, PathString path, string messageId)
    {
        if (Interlocked.Increment(ref _count) == 1) First = now;
        Last = now;
        if (path.StartsWithSegments("/latency")) Arrivals.TryAdd(messageId, now);
    }

    public ValueTask DisposeAsync() => _app.DisposeAsync();
}
