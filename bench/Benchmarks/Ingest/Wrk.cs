using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;

namespace Herald.Bench.Ingest;

public sealed record LoadResult(double RequestsPerSecond, double P50, double P99, long Errors);

/// <summary>Closed-loop saturation with wrk, the same tool for the baseline and for Herald.</summary>
public static partial class Wrk
{
    public static void RequireInstalled()
    {
        if (!(Environment.GetEnvironmentVariable("PATH") ?? "").Split(':').Any(d => File.Exists(Path.Combine(d, "wrk"))))
        {
            Console.Error.WriteLine("This benchmark drives load with wrk. Debian/Ubuntu: sudo apt-get install wrk");
            Environment.Exit(2);
        }
    }

    public static async Task<LoadResult> RunAsync(Uri url, string body, string? apiKey, TimeSpan duration, int connections)
    {
        var script = Path.Combine(Path.GetTempPath(), $"herald-bench-{Guid.NewGuid():N}.lua");
        await File.WriteAllTextAsync(script, $$"""
            wrk.method = "POST"
            wrk.body = [[{{body}}]]
            wrk.headers["Content-Type"] = "application/json"
            {{(apiKey is null ? "" : $"wrk.headers[\"Authorization\"] = \"Bearer {apiKey}\"")}}
            """);
        try
        {
            var start = new ProcessStartInfo("wrk", ["-t2", $"-c{connections}", $"-d{(int)duration.TotalSeconds}s", "--latency", "-s", script, url.ToString()])
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
            };
            using var wrk = Process.Start(start)!;
            var output = await wrk.StandardOutput.ReadToEndAsync();
            await wrk.WaitForExitAsync();
            return Parse(output);
        }
        finally
        {
            File.Delete(script);
        }
    }

    public static LoadResult Parse(string output)
    {
        var rate = double.Parse(RequestsPerSecond().Match(output).Groups[1].Value, CultureInfo.InvariantCulture);
        var errors = NonSuccess().Match(output) is { Success: true } m ? long.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture) : 0;
        var socketErrors = SocketErrors().Matches(output).Sum(e => long.Parse(e.Groups[1].Value, CultureInfo.InvariantCulture));
        return new LoadResult(rate, Percentile(output, "50%"), Percentile(output, "99%"), errors + socketErrors);
    }

    private static double Percentile(string output, string percentile)
    {
        var match = Regex.Match(output, $@"^\s+{Regex.Escape(percentile)}\s+([\d.]+)(us|ms|s)\s*$", RegexOptions.Multiline);
        var value = double.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture);
        return match.Groups[2].Value switch { "us" => value / 1000, "s" => value * 1000, _ => value };
    }

    [GeneratedRegex(@"Requests/sec:\s+([\d.]+)")]
    private static partial Regex RequestsPerSecond();

    [GeneratedRegex(@"Non-2xx or 3xx responses:\s+(\d+)")]
    private static partial Regex NonSuccess();

    [GeneratedRegex(@"(?:connect|read|write|timeout) (\d+)")]
    private static partial Regex SocketErrors();
}
