using System.Diagnostics;

namespace Herald.Bench;

/// <summary>When an open-loop run started, and how many sends started more than 10 ms behind schedule (the client,
/// not the server, falling behind).</summary>
public sealed record Paced(long Start, int Sent, int Late);

/// <summary>
/// Open loop: send i is due at start + i/rate whether or not earlier ones have been answered, so a stall shows up in
/// the latencies instead of slowing the load.
/// </summary>
public static class Pacer
{
    /// <param name="send">Starts send i, due at the given Stopwatch timestamp; must not block (start a task).</param>
    /// <param name="stop">Ends the run early: no send starts after it is cancelled.</param>
    public static async Task<Paced> RunAsync(int rate, int total, Action<int, long> send, CancellationToken stop = default)
    {
        var late = 0;
        var start = Stopwatch.GetTimestamp();
        var next = 0;
        while (next < total && !stop.IsCancellationRequested)
        {
            var due = Math.Min(total, (int)(Stopwatch.GetElapsedTime(start).TotalSeconds * rate) + 1);
            if (due - next > rate / 100) late += due - next - rate / 100;
            for (; next < due; next++) send(next, start + (long)(next * (double)Stopwatch.Frequency / rate));
            await Task.Delay(1, CancellationToken.None);
        }
        return new Paced(start, next, late);
    }
}
