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

/// <summary>A webhook receiver on loopback that answers 204 at once and notes when each message arrived.</summary>
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
            receiver!.Note(now, context.Request.Path, context.Request.Headers["webhook-id"].ToString());
            return Results.NoContent();
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
