using System.Diagnostics;

namespace Herald.Bench.Faults;

/// <summary>One readiness poll: when it was sent, and the status (0: no connection, -1: no answer within the probe's
/// timeout).</summary>
public readonly record struct ReadinessPoll(long At, int Status)
{
    public bool Ready => Status == 200;

    public string Outcome => Status switch { 0 => "refused", -1 => "timeout", _ => Status.ToString(System.Globalization.CultureInfo.InvariantCulture) };
}

/// <summary>Polls <c>/readyz</c> of one process directly (no proxy), as a load balancer's health check would.</summary>
public sealed class ReadinessProbe(Func<Uri> target)
{
    public static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(250);
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(1);

    public async Task<IReadOnlyList<ReadinessPoll>> RunAsync(CancellationToken stop)
    {
        using var http = new HttpClient { Timeout = Timeout };
        using var timer = new PeriodicTimer(Interval);
        var polls = new List<ReadinessPoll>();
        do
        {
            var at = Stopwatch.GetTimestamp();
            polls.Add(new ReadinessPoll(at, await PollAsync(http)));
        }
        while (await WaitAsync(timer, stop));
        return polls;
    }

    private async Task<int> PollAsync(HttpClient http)
    {
        try
        {
            using var response = await http.GetAsync(new Uri(target(), "/readyz"));
            return (int)response.StatusCode;
        }
        catch (TaskCanceledException)
        {
            return -1;
        }
        catch (HttpRequestException)
        {
            return 0;
        }
    }

    private static async Task<bool> WaitAsync(PeriodicTimer timer, CancellationToken stop)
    {
        try
        {
            return await timer.WaitForNextTickAsync(stop);
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }
}
