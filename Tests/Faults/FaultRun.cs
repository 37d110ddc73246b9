using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Aspire.Hosting.Testing;
using Herald.Tests.Harness;
using Xunit.Abstractions;

namespace Herald.Tests.Faults;

/// <summary>One create-message request of a fault run, as the client saw it.</summary>
/// <param name="Stalled">How much of <see cref="Latency"/> this test process itself could not run (see
/// <see cref="FaultRun"/>): time the client lost, not the service.</param>
public sealed record SentMessage(string EventId, TimeSpan SentAt, int? Status, TimeSpan Latency, string? MessageId, string? RetryAfter, string? ContentType,
    TimeSpan Stalled = default)
{
    public bool Accepted => Status == 202;

    /// <summary>The request's latency less the time this test process was stalled meanwhile.</summary>
    public TimeSpan ServiceLatency => Latency - Stalled;
}

/// <summary>
/// A paced stream of messages to a fresh application with several endpoints on the test receiver, a fault injected
/// while it runs, then a wait until every accepted message has reached every endpoint (or the settle time is up).
/// The counts are the fault matrix's (bench/Benchmarks <c>faults</c>): lost, duplicated, late, and whether the API
/// stayed ready.
/// </summary>
public sealed class FaultRun
{
    private readonly ConcurrentQueue<SentMessage> _sent = new();
    private readonly ConcurrentQueue<(TimeSpan At, HttpStatusCode? Status, string? Report, TimeSpan Latency)> _readiness = new();
    private readonly ConcurrentQueue<(TimeSpan From, TimeSpan To)> _stalls = new();
    private readonly List<Uri> _endpoints = [];
    private readonly Stopwatch _clock = new();
    private readonly HeraldAppFixture _herald;
    private readonly ITestOutputHelper _output;
    private string _application = "";
    private HttpClient _api = null!;

    private FaultRun(HeraldAppFixture herald, ITestOutputHelper output) => (_herald, _output) = (herald, output);

    public IReadOnlyCollection<SentMessage> Sent => _sent;

    public IReadOnlyList<SentMessage> Accepted => [.. _sent.Where(s => s.Accepted)];

    /// <summary>Readiness of the API (its own port, 1 s timeout) every 250 ms while the stream ran.</summary>
    public IReadOnlyCollection<(TimeSpan At, HttpStatusCode? Status, string? Report, TimeSpan Latency)> Readiness => _readiness;

    public int Lost { get; private set; }

    /// <summary>(endpoint, webhook-id) pairs that got a 2xx more than once: the extra 2xx responses.</summary>
    public int Duplicated { get; private set; }

    /// <summary>Deliveries whose first 2xx came more than 10 s after the 202.</summary>
    public int Late { get; private set; }

    public bool ApiReadyThroughout => _readiness.All(r => r.Status == HttpStatusCode.OK);

    /// <param name="fault">Injected after <paramref name="before"/> of the stream; the stream goes on for <paramref name="after"/> once it returns.</param>
    public static async Task<FaultRun> RunAsync(HeraldAppFixture herald, ITestOutputHelper output, Func<Task> fault,
        int rate = 20, int endpoints = 2, TimeSpan? before = null, TimeSpan? after = null, TimeSpan? settle = null,
        Action<Uri>? configureEndpoint = null)
    {
        var run = new FaultRun(herald, output);
        await run.PrepareAsync(endpoints, configureEndpoint);
        await run.StreamAsync(fault, rate, before ?? TimeSpan.FromSeconds(3), after ?? TimeSpan.FromSeconds(3));
        await run.SettleAsync(settle ?? TimeSpan.FromSeconds(60));
        return run;
    }

    private async Task PrepareAsync(int endpoints, Action<Uri>? configureEndpoint)
    {
        _application = await _herald.Admin.CreateApplicationAsync("faults");
        var key = await _herald.Admin.CreateApplicationKeyAsync(_application);
        for (var i = 0; i < endpoints; i++)
        {
            var url = _herald.Receiver.UrlFor($"fault-{Guid.NewGuid():N}");
            configureEndpoint?.Invoke(url);
            await _herald.Admin.CreateEndpointAsync(_application, url);
            _endpoints.Add(url);
        }
        _api = _herald.App.CreateHttpClient("api");
        _api.Timeout = TimeSpan.FromSeconds(10);
        _api.DefaultRequestHeaders.Authorization = new("Bearer", key);
    }

    private async Task StreamAsync(Func<Task> fault, int rate, TimeSpan before, TimeSpan after)
    {
        using var stop = new CancellationTokenSource();
        _clock.Start();
        var watcher = new Thread(() => WatchForStalls(stop.Token)) { IsBackground = true, Name = "fault-run stall watcher" };
        watcher.Start();
        var readiness = PollReadinessAsync(stop.Token);
        var stream = SendAsync(rate, stop.Token);
        await Task.Delay(before);
        var faultStarted = _clock.Elapsed;
        await fault();
        _output.WriteLine($"fault from {faultStarted.TotalSeconds:0.0} s to {_clock.Elapsed.TotalSeconds:0.0} s");
        await Task.Delay(after);
        await stop.CancelAsync();
        await Task.WhenAll(stream, readiness);
        watcher.Join();
        var sent = _sent.Select(s => s with { Stalled = StalledDuring(s.SentAt, s.SentAt + s.Latency) }).ToList();
        _sent.Clear();
        foreach (var s in sent) _sent.Enqueue(s);
    }

    // This process hosts the AppHost, the Kafka mock, the receiver and this load generator, on the same 2 cores as
    // everything else: a GC pause, a starved thread pool or a busy machine can hold its requests' completions back. A
    // dedicated thread hands the thread pool a work item every 10 ms; the time one waits to run is time this process
    // could not have observed a response either, and is kept apart from the service's latency.
    private void WatchForStalls(CancellationToken stop)
    {
        using var ran = new ManualResetEventSlim();
        while (!stop.IsCancellationRequested)
        {
            ran.Reset();
            var queued = _clock.Elapsed;
            var started = TimeSpan.Zero;
            ThreadPool.UnsafeQueueUserWorkItem(_ => { started = _clock.Elapsed; ran.Set(); }, null);
            ran.Wait(CancellationToken.None);
            if (started - queued > StallThreshold) _stalls.Enqueue((queued, started));
            Thread.Sleep(10);
        }
    }

    private static readonly TimeSpan StallThreshold = TimeSpan.FromMilliseconds(50);

    private TimeSpan StalledDuring(TimeSpan from, TimeSpan to)
    {
        var stalled = TimeSpan.Zero;
        foreach (var (stallFrom, stallTo) in _stalls)
        {
            var overlap = (stallTo < to ? stallTo : to) - (stallFrom > from ? stallFrom : from);
            if (overlap > TimeSpan.Zero) stalled += overlap;
        }
        return stalled;
    }

    // Open loop: one request every 1/rate s, whether or not earlier ones have answered, so a hang shows as latency.
    private async Task SendAsync(int rate, CancellationToken stop)
    {
        var requests = new List<Task>();
        var interval = TimeSpan.FromSeconds(1.0 / rate);
        for (var n = 0; !stop.IsCancellationRequested; n++)
        {
            var due = interval * n;
            if (_clock.Elapsed < due)
            {
                try
                {
                    await Task.Delay(due - _clock.Elapsed, stop);
                }
                catch (OperationCanceledException)
                {
                    break;
                }
            }
            requests.Add(SendOneAsync($"fault-{n}-{Guid.NewGuid():N}"));
        }
        await Task.WhenAll(requests);
    }

    private async Task SendOneAsync(string eventId)
    {
        var sentAt = _clock.Elapsed;
        try
        {
            using var response = await _api.PostAsJsonAsync($"/api/v1/apps/{_application}/messages",
                new { eventType = "fault.tick", eventId, payload = new { eventId } });
            var latency = _clock.Elapsed - sentAt;
            string? id = null;
            if (response.StatusCode == HttpStatusCode.Accepted)
                id = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetString();
            _sent.Enqueue(new SentMessage(eventId, sentAt, (int)response.StatusCode, latency, id,
                response.Headers.RetryAfter?.ToString(), response.Content.Headers.ContentType?.MediaType));
        }
        catch (Exception exception) when (exception is HttpRequestException or TaskCanceledException)
        {
            _sent.Enqueue(new SentMessage(eventId, sentAt, null, _clock.Elapsed - sentAt, null, null, exception.GetType().Name));
        }
    }

    private async Task PollReadinessAsync(CancellationToken stop)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(1) };
        Uri? url = null;
        while (!stop.IsCancellationRequested)
        {
            HttpStatusCode? status = null;
            string? report = null;
            var at = _clock.Elapsed;
            try
            {
                // The API process itself (the orchestrator's proxy would answer for it while it restarts), found again
                // only when it stops answering: finding it walks /proc, which is not the probe's time.
                url ??= new Uri(HeraldAppFixture.ManagementUrl(HeraldAppFixture.ProcessOf((await _herald.CurrentStateAsync("api", stop)).ResourceId)!.Value), "/readyz");
                at = _clock.Elapsed;
                using var response = await http.GetAsync(url, stop);
                status = response.StatusCode;
                report = await response.Content.ReadAsStringAsync(stop);
            }
            catch (Exception exception) when (exception is HttpRequestException or TaskCanceledException or InvalidOperationException or IOException)
            {
                if (stop.IsCancellationRequested) break;
                url = null;
            }
            _readiness.Enqueue((at, status, report, _clock.Elapsed - at));
            try
            {
                await Task.Delay(250, stop);
            }
            catch (OperationCanceledException)
            {
                break;
            }
        }
    }

    private async Task SettleAsync(TimeSpan settle)
    {
        var accepted = Accepted;
        var deadline = DateTime.UtcNow + settle;
        while (Missing(accepted) > 0 && DateTime.UtcNow < deadline) await Task.Delay(250);
        // Late duplicates (a zombie's sends) arrive after the last first delivery: give them a moment.
        await Task.Delay(TimeSpan.FromSeconds(2));

        Lost = Missing(accepted);
        var acceptedIds = accepted.Select(a => a.MessageId!).ToHashSet();
        Duplicated = _endpoints.Sum(url => Successes(url).Where(r => acceptedIds.Contains(r.MessageId!)).GroupBy(r => r.MessageId).Sum(g => g.Count() - 1));
        var started = DateTimeOffset.UtcNow - _clock.Elapsed;
        Late = _endpoints.Sum(url =>
        {
            var first = Successes(url).GroupBy(r => r.MessageId!).ToDictionary(g => g.Key, g => g.Min(r => r.ReceivedAt));
            return accepted.Count(a => first.TryGetValue(a.MessageId!, out var arrived) && arrived - (started + a.SentAt + a.Latency) > TimeSpan.FromSeconds(10));
        });
        _output.WriteLine(Describe());
        // Per second of sending: the slowest first arrival of that second's messages (to spot when delivery stalled).
        var delays = accepted.SelectMany(a => _endpoints.Select(url => (a, url))).Select(x =>
        {
            var arrived = Successes(x.url).Where(r => r.MessageId == x.a.MessageId).Select(r => r.ReceivedAt).DefaultIfEmpty().Min();
            return (Second: (int)x.a.SentAt.TotalSeconds, Delay: arrived == default ? double.NaN : (arrived - (started + x.a.SentAt + x.a.Latency)).TotalSeconds);
        });
        _output.WriteLine("slowest arrival by second sent: " + string.Join(" ", delays.GroupBy(d => d.Second).OrderBy(g => g.Key)
            .Select(g => $"{g.Key}:{g.Max(d => d.Delay):0.0}")));
    }

    private int Missing(IReadOnlyList<SentMessage> accepted) =>
        _endpoints.Sum(url => accepted.Select(a => a.MessageId!).Except(Successes(url).Select(r => r.MessageId!)).Count());

    private IEnumerable<ReceivedWebhook> Successes(Uri url) => _herald.Receiver.ReceivedAt(url).Where(r => r.Status is >= 200 and < 300);

    public string Describe()
    {
        var latencies = _sent.Where(s => s.Status is not null).Select(s => s.Latency.TotalMilliseconds).Order().ToList();
        var refused = string.Join(" ", _sent.Where(s => !s.Accepted).GroupBy(s => s.Status?.ToString() ?? s.ContentType ?? "?").Select(g => $"{g.Key}:{g.Count()}"));
        var readiness = string.Join(" ", _readiness.GroupBy(r => r.Status?.ToString() ?? "none").Select(g => $"{g.Key}:{g.Count()}"));
        return $"sent {_sent.Count}, 202 {Accepted.Count}, refused [{refused}], lost {Lost}, duplicated {Duplicated}, late {Late}; " +
               $"latency p50 {Percentile(latencies, 0.5):0} ms, p99 {Percentile(latencies, 0.99):0} ms, max {(latencies.Count > 0 ? latencies[^1] : 0):0} ms; " +
               $"readiness [{readiness}], slowest {(_readiness.Count > 0 ? _readiness.Max(r => r.Latency.TotalMilliseconds) : 0):0} ms; " +
               $"test process stalled {_stalls.Count} times for {_stalls.Aggregate(TimeSpan.Zero, (t, s) => t + (s.To - s.From)).TotalMilliseconds:0} ms in all";
    }

    public static double Percentile(IReadOnlyList<double> sorted, double q) => sorted.Count == 0 ? 0 : sorted[(int)Math.Min(sorted.Count - 1, Math.Floor(q * sorted.Count))];
}
