using System.Diagnostics;
using System.Globalization;
using Aspire.Hosting;
using Aspire.Hosting.ApplicationModel;
using Microsoft.Extensions.DependencyInjection;

namespace Herald.Bench.Faults;

/// <summary>Every resource instance's console output, written to <c>DIRECTORY/&lt;instance&gt;.log</c> with the seconds
/// since <paramref name="origin"/> in front of each line, so a row's numbers can be read next to what the services
/// said (the table says when the fault was injected on the same clock).</summary>
/// <param name="onLine">Told of every line, with its instance id.</param>
public sealed class ResourceLogs(DistributedApplication app, string directory, long origin, Action<string, string> onLine) : IAsyncDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private readonly List<Task> _watchers = [];

    public void Start()
    {
        Directory.CreateDirectory(directory);
        _watchers.Add(WatchResourcesAsync());
    }

    private async Task WatchResourcesAsync()
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        try
        {
            await foreach (var update in app.ResourceNotifications.WatchAsync(_stop.Token))
            {
                if (!seen.Add(update.ResourceId)) continue;
                lock (_watchers) _watchers.Add(WatchLogAsync(update.ResourceId));
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    private async Task WatchLogAsync(string resourceId)
    {
        var loggers = app.Services.GetRequiredService<ResourceLoggerService>();
        await using var file = new StreamWriter(Path.Combine(directory, resourceId + ".log"), append: true);
        try
        {
            await foreach (var batch in loggers.WatchAsync(resourceId).WithCancellation(_stop.Token))
            {
                var at = Stopwatch.GetElapsedTime(origin).TotalSeconds.ToString("0.000", CultureInfo.InvariantCulture);
                foreach (var line in batch)
                {
                    onLine(resourceId, line.Content);
                    await file.WriteLineAsync($"+{at} {line.Content}");
                }
                await file.FlushAsync();
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        Task[] watchers;
        lock (_watchers) watchers = [.. _watchers];
        await Task.WhenAll(watchers);
        _stop.Dispose();
    }
}
