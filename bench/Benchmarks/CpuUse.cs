using System.Globalization;

namespace Herald.Bench;

/// <summary>
/// CPU time used by this process and every process it started (the orchestrator, Herald's services, PostgreSQL,
/// Redis), read from /proc and grouped by program. CPU per message is steadier than a rate on a noisy machine.
/// </summary>
public sealed class CpuUse
{
    public const string Api = "ApiService";
    public const string Processor = "Processor (both replicas)";
    public const string Postgres = "postgres";
    public const string Redis = "redis-server";
    public const string Benchmark = "benchmark (client, receiver, Kafka mock)";
    public const string FloorApi = "floor API";
    public const string FloorProcessor = "floor Processor";

    private static readonly double TicksPerSecond = 100; // USER_HZ on Linux

    // By process: which program, and its CPU seconds so far.
    private readonly Dictionary<int, (string Program, double Seconds)> _processes;

    private CpuUse(Dictionary<int, (string, double)> processes) => _processes = processes;

    public static CpuUse Now()
    {
        var processes = new List<(int Pid, int Parent, string Program, double Seconds)>();
        foreach (var directory in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(directory), out var pid)) continue;
            try
            {
                var stat = File.ReadAllText(Path.Combine(directory, "stat"));
                // The program name is in parentheses and may hold spaces; the fields after it are space-separated.
                var open = stat.IndexOf('(');
                var close = stat.LastIndexOf(')');
                var fields = stat[(close + 2)..].Split(' ');
                var ticks = long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture);
                processes.Add((pid, int.Parse(fields[1], CultureInfo.InvariantCulture), stat[(open + 1)..close], ticks / TicksPerSecond));
            }
            catch (IOException)
            {
                // Exited while we looked.
            }
        }

        // The orchestrator detaches from us but names us as the process it serves (--monitor <pid>).
        var mine = new HashSet<int> { Environment.ProcessId };
        foreach (var process in processes.Where(p => p.Program == "dcp" && MonitorsUs(p.Pid))) mine.Add(process.Pid);
        for (var grew = true; grew;)
        {
            grew = false;
            foreach (var process in processes)
                if (mine.Contains(process.Parent) && mine.Add(process.Pid)) grew = true;
        }
        return new CpuUse(processes.Where(p => mine.Contains(p.Pid)).ToDictionary(
            p => p.Pid,
            p => (p.Pid == Environment.ProcessId ? Benchmark : Name(p.Pid, p.Program), p.Seconds)));
    }

    /// <summary>CPU milliseconds per unit of work since <paramref name="before"/>, by program, largest first. A process
    /// that exited in between is not counted; one that started is counted from its start.</summary>
    public IReadOnlyList<(string Program, double Milliseconds)> PerUnitSince(CpuUse before, int units) =>
    [
        .. _processes
            .Select(p => (p.Value.Program, Seconds: p.Value.Seconds - (before._processes.TryGetValue(p.Key, out var then) ? then.Seconds : 0)))
            .GroupBy(p => p.Program)
            .Select(g => (g.Key, g.Sum(p => p.Seconds) * 1000 / units))
            .Where(p => p.Item2 > 0.0005)
            .OrderByDescending(p => p.Item2),
    ];

    /// <summary>Each program's peak resident memory (VmHWM) in MiB, the largest of its processes (replicas count
    /// one by one). Peak since each process started.</summary>
    public IReadOnlyDictionary<string, double> PeakResidentMiB()
    {
        var peaks = new Dictionary<string, double>();
        foreach (var (pid, (program, _)) in _processes)
        {
            try
            {
                var line = File.ReadLines($"/proc/{pid}/status").FirstOrDefault(l => l.StartsWith("VmHWM:", StringComparison.Ordinal));
                if (line is null) continue;
                var kib = double.Parse(line["VmHWM:".Length..].Trim().Split(' ')[0], CultureInfo.InvariantCulture);
                peaks[program] = Math.Max(peaks.GetValueOrDefault(program), kib / 1024);
            }
            catch (IOException)
            {
                // Exited while we looked.
            }
        }
        return peaks;
    }

    private static bool MonitorsUs(int pid)
    {
        var args = Arguments(pid);
        var monitor = Array.IndexOf(args, "--monitor");
        return monitor >= 0 && monitor + 1 < args.Length && args[monitor + 1] == Environment.ProcessId.ToString(CultureInfo.InvariantCulture);
    }

    private static string[] Arguments(int pid)
    {
        try
        {
            return File.ReadAllText($"/proc/{pid}/cmdline").Split('\0');
        }
        catch (IOException)
        {
            return [];
        }
    }

    // /proc truncates program names to 15 characters; the floor's programs are this benchmark run with a command.
    private static string Name(int pid, string program) => program switch
    {
        "Herald.ApiServi" => Api,
        "Herald.Processo" => Processor,
        "Herald.Bench" or "dotnet" => Arguments(pid) switch
        {
            var args when args.Contains(Floor.FloorApi.Command) => FloorApi,
            var args when args.Contains(Floor.FloorProcessor.Command) => FloorProcessor,
            _ => program,
        },
        _ => program,
    };
}
