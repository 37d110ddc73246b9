using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json;
using Herald.Fuzzing.Harnesses;

namespace Herald.Fuzzing.Afl;

/// <summary>One harness's run: what afl-fuzz's fuzzer_stats said at the end.</summary>
public sealed record HarnessRun(string Harness, long Executions, double ExecutionsPerSecond, int Corpus, int Crashes, int Hangs,
    double Minutes, IReadOnlyList<string> NewCrashers, string? Failure);

/// <summary>
/// <c>fuzz</c>: instruments a copy of this build (the Herald assemblies that hold the parsers), then runs afl-fuzz on each
/// harness in turn for the given minutes — one at a time, the machine has two cores — and reports fuzzer_stats.
/// </summary>
public static class AflCampaign
{
    public const string TargetCommand = "target";

    // The assemblies holding the parsers: coverage is measured in these (the framework's own parsers run uninstrumented).
    private static readonly string[] Instrumented = ["Herald.ApiService.dll", "Herald.Processor.dll", "Herald.Domain.dll"];

    public static async Task<int> RunAsync(string[] args)
    {
        var which = args.FirstOrDefault(a => !a.StartsWith("--", StringComparison.Ordinal)) ?? "all";
        var minutes = Option(args, "--minutes") is { } m ? double.Parse(m, CultureInfo.InvariantCulture) : 2;
        var json = args.Contains("--json");
        var harnesses = which == "all" ? Catalog.All : Catalog.Find(which) is { } one ? [one] : [];
        if (harnesses.Count == 0)
        {
            Console.Error.WriteLine($"No harness '{which}'; harnesses: {string.Join(", ", Catalog.All.Select(h => h.Name))}");
            return 2;
        }
        if (FindOnPath("afl-fuzz") is not { } aflFuzz)
        {
            Console.Error.WriteLine("afl-fuzz is not installed: apt-get install -y afl++");
            return 3;
        }

        var work = Directory.CreateTempSubdirectory("herald-fuzz-").FullName;
        var bin = Path.Combine(work, "bin");
        Console.Error.WriteLine($"Instrumenting a copy of the build in {bin} ...");
        CopyDirectory(AppContext.BaseDirectory, bin);
        var repository = Path.GetDirectoryName(Path.GetDirectoryName(Replay.FuzzingFolder()))!;
        if (await RunAsync("dotnet", ["tool", "restore"], repository) != 0) return 4;
        foreach (var assembly in Instrumented)
        {
            if (await RunAsync("dotnet", ["tool", "run", "sharpfuzz", Path.Combine(bin, assembly)], repository) != 0) return 4;
        }

        var runs = new List<HarnessRun>();
        foreach (var harness in harnesses)
        {
            Console.Error.WriteLine($"Fuzzing {harness.Name} for {minutes} min ...");
            runs.Add(await FuzzAsync(aflFuzz, bin, Path.Combine(work, harness.Name), harness, minutes));
        }

        PrintTable(runs);
        if (json) Console.WriteLine(JsonSerializer.Serialize(runs, new JsonSerializerOptions(JsonSerializerDefaults.Web) { WriteIndented = true }));
        Console.Error.WriteLine($"afl-fuzz's output folders are in {work}");
        return runs.Any(r => r.Failure is not null) ? 1 : 0;
    }

    private static async Task<HarnessRun> FuzzAsync(string aflFuzz, string bin, string work, IHarness harness, double minutes)
    {
        var findings = Path.Combine(work, "findings");
        Directory.CreateDirectory(work);
        var seconds = Math.Max(10, (int)Math.Round(minutes * 60));
        var start = new ProcessStartInfo(aflFuzz)
        {
            ArgumentList =
            {
                "-i", Replay.CorpusFolder(harness), "-o", findings,
                // Generous: SharpFuzz cannot recover from a timeout (it ends the whole run), so only real hangs should hit it.
                "-t", "5000", "-m", "none", "-V", seconds.ToString(CultureInfo.InvariantCulture),
                "--", "dotnet", Path.Combine(bin, "Herald.Fuzzing.dll"), TargetCommand, harness.Name,
            },
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            Environment =
            {
                ["AFL_SKIP_BIN_CHECK"] = "1",          // the target is `dotnet`, not an afl-instrumented binary
                ["AFL_NO_UI"] = "1",
                ["AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES"] = "1",
                ["AFL_SKIP_CPUFREQ"] = "1",
                ["AFL_NO_AFFINITY"] = "1",             // two cores, shared with whatever else runs
                ["AFL_FORKSRV_INIT_TMOUT"] = "120000", // the runtime's start and first JIT, on a busy machine
                ["AFL_NO_CRASH_README"] = "1",
                ["DOTNET_TieredPGO"] = "0",
            },
        };
        var stopwatch = Stopwatch.StartNew();
        using var process = Process.Start(start)!;
        var log = Path.Combine(work, "afl-fuzz.log");
        await using (var writer = File.CreateText(log))
        {
            var stdout = Pump(process.StandardOutput, writer);
            var stderr = Pump(process.StandardError, writer);
            // -V ends the run; the margin covers the dry run over the seeds, then it is stopped.
            using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(seconds + 300));
            try
            {
                await process.WaitForExitAsync(deadline.Token);
            }
            catch (OperationCanceledException)
            {
                process.Kill(entireProcessTree: true);
                await process.WaitForExitAsync();
            }
            await Task.WhenAll(stdout, stderr);
        }

        var stats = ReadStats(Path.Combine(findings, "default", "fuzzer_stats"));
        var crashers = CopyCrashers(Path.Combine(findings, "default", "crashes"), Replay.CrashersFolder(harness));
        if (stats is null)
        {
            return new HarnessRun(harness.Name, 0, 0, 0, 0, 0, stopwatch.Elapsed.TotalMinutes, crashers,
                $"afl-fuzz exited {process.ExitCode} without stats; see {log}: {LastLines(log)}");
        }
        var executions = Long(stats, "execs_done");
        var runTime = Math.Max(1, Long(stats, "run_time"));
        return new HarnessRun(harness.Name, executions, Math.Round((double)executions / runTime, 1), (int)Long(stats, "corpus_count"),
            (int)Long(stats, "saved_crashes"), (int)Long(stats, "saved_hangs"), Math.Round(runTime / 60.0, 1), crashers,
            process.ExitCode == 0 ? null : $"afl-fuzz exited {process.ExitCode}; see {log}: {LastLines(log)}");
    }

    private static void PrintTable(IReadOnlyList<HarnessRun> runs)
    {
        Console.WriteLine($"| {"harness",-16} | {"executions",12} | {"execs/s",9} | {"corpus",6} | {"crashes",7} | {"hangs",5} | {"minutes",7} |");
        Console.WriteLine($"|{new string('-', 18)}|{new string('-', 13)}:|{new string('-', 10)}:|{new string('-', 7)}:|{new string('-', 8)}:|{new string('-', 6)}:|{new string('-', 8)}:|");
        foreach (var run in runs)
        {
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"| {run.Harness,-16} | {run.Executions,12:N0} | {run.ExecutionsPerSecond,9:N1} | {run.Corpus,6} | {run.Crashes,7} | {run.Hangs,5} | {run.Minutes,7:N1} |"));
        }
        foreach (var run in runs.Where(r => r.NewCrashers.Count > 0))
            Console.WriteLine($"{run.Harness}: new crashers {string.Join(", ", run.NewCrashers)}");
        foreach (var run in runs.Where(r => r.Failure is not null))
            Console.WriteLine($"{run.Harness}: {run.Failure}");
    }

    /// <summary>Copies crashes afl-fuzz saved, named by content so a crash found again is not kept twice.</summary>
    private static List<string> CopyCrashers(string crashes, string crashers)
    {
        var added = new List<string>();
        if (!Directory.Exists(crashes)) return added;
        foreach (var file in Directory.GetFiles(crashes, "id:*"))
        {
            var bytes = File.ReadAllBytes(file);
            var target = Path.Combine(crashers, "crash-" + Convert.ToHexStringLower(SHA256.HashData(bytes))[..16]);
            if (File.Exists(target)) continue;
            Directory.CreateDirectory(crashers);
            File.WriteAllBytes(target, bytes);
            added.Add(Path.GetFileName(target));
        }
        return added;
    }

    private static Dictionary<string, string>? ReadStats(string path) =>
        File.Exists(path)
            ? File.ReadAllLines(path).Select(line => line.Split(':', 2)).Where(p => p.Length == 2)
                .ToDictionary(p => p[0].Trim(), p => p[1].Trim())
            : null;

    private static long Long(Dictionary<string, string> stats, string key) =>
        stats.TryGetValue(key, out var value) && double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var number) ? (long)number : 0;

    private static async Task Pump(StreamReader reader, StreamWriter writer)
    {
        while (await reader.ReadLineAsync() is { } line)
        {
            lock (writer) writer.WriteLine(line);
        }
    }

    private static string LastLines(string log) => string.Join(" / ", File.ReadLines(log).TakeLast(3));

    private static async Task<int> RunAsync(string file, string[] arguments, string directory)
    {
        var start = new ProcessStartInfo(file) { WorkingDirectory = directory, RedirectStandardOutput = true };
        foreach (var argument in arguments) start.ArgumentList.Add(argument);
        using var process = Process.Start(start)!;
        var output = await process.StandardOutput.ReadToEndAsync();
        await process.WaitForExitAsync();
        if (process.ExitCode != 0) Console.Error.WriteLine($"{file} {string.Join(' ', arguments)} failed:\n{output}");
        return process.ExitCode;
    }

    private static void CopyDirectory(string from, string to)
    {
        foreach (var directory in Directory.GetDirectories(from, "*", SearchOption.AllDirectories))
            Directory.CreateDirectory(Path.Combine(to, Path.GetRelativePath(from, directory)));
        Directory.CreateDirectory(to);
        foreach (var file in Directory.GetFiles(from, "*", SearchOption.AllDirectories))
            File.Copy(file, Path.Combine(to, Path.GetRelativePath(from, file)));
    }

    private static string? FindOnPath(string name) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Select(directory => Path.Combine(directory, name)).FirstOrDefault(File.Exists);

    private static string? Option(string[] args, string name) =>
        Array.IndexOf(args, name) is >= 0 and var i && i + 1 < args.Length ? args[i + 1] : null;
}
