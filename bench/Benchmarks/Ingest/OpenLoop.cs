using System.Diagnostics;
using System.Net;
using System.Text;

namespace Herald.Bench.Ingest;

public sealed record PacedResult(double P50, double P99, int Sent, int Errors, int Late);

/// <summary>
/// Open-loop load at a fixed rate (<see cref="Pacer"/>); a request's latency counts from when it was due — so a stall
/// shows up in the percentiles instead of hiding.
/// </summary>
public static class OpenLoop
{
    public static async Task<PacedResult> RunAsync(Uri url, string body, string apiKey, int rate, TimeSpan duration)
    {
        using var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = 512, PooledConnectionLifetime = Timeout.InfiniteTimeSpan });
        http.DefaultRequestHeaders.Authorization = new("Bearer", apiKey);
        var total = (int)(rate * duration.TotalSeconds);
        var latencies = new double[total];
        var errors = 0;
        var pending = new List<Task>(total);
        var paced = await Pacer.RunAsync(rate, total, (index, dueAt) => pending.Add(SendAsync(index, dueAt)));
        await Task.WhenAll(pending);

        Array.Sort(latencies);
        return new PacedResult(latencies[total / 2], latencies[(int)(total * 0.99)], total, errors, paced.Late);

        async Task SendAsync(int index, long dueAt)
        {
            try
            {
                using var content = new StringContent(body, Encoding.UTF8, "application/json");
                using var response = await http.PostAsync(url, content);
                if (response.StatusCode != HttpStatusCode.Accepted) Interlocked.Increment(ref errors);
            }
            catch (HttpRequestException)
            {
                Interlocked.Increment(ref errors);
            }
            latencies[index] = Stopwatch.GetElapsedTime(dueAt).TotalMilliseconds;
        }
    }
}
