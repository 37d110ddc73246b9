using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Aspire.Hosting.Testing;
using Npgsql;
using Herald.Bench.Delivery;
using Herald.Bench.Floor;

namespace Herald.Bench.Cost;

/// <summary>One row of the comparison: a measurement of the floor and of Herald, and Herald ÷ floor.</summary>
public sealed record CostRow(string Measurement, double Floor, double Herald, string Unit)
{
    public double Ratio => Floor == 0 ? double.NaN : Herald / Floor;
}

/// <summary>
/// Herald against the floor — the same durable work per message with the least code (<see cref="FloorTarget"/>) — side
/// by side in one run, on the same PostgreSQL, Kafka-protocol broker, receiver and load generator. Each measurement runs
/// the floor, then Herald, while the other idles.
/// </summary>
public static class CostBenchmark
{
    /// <param name="floorOnly">The floor alone (the <c>floor</c> command), without Herald.</param>
    public static Command CreateCommand(string name, bool floorOnly)
    {
        var messages = Cli.Number("--messages", 20_000, "messages in the saturation measurement");
        var duration = Cli.Seconds("--duration", 10, "seconds of each latency and ingest measurement");
        var concurrency = Cli.Number("--concurrency", 64, "concurrent senders at saturation and in ingest");
        var endpoints = Cli.Number("--endpoints", 8, "endpoints on the loopback receiver");
        // Only the latency rows: a quick check of a change to the path from 202 to arrival.
        var only = Cli.Text("--only", "latency", "only the latency rows (and where the time goes)");
        only.AcceptOnlyFromAmong("latency");
        var json = Cli.Text("--json", "FILE", "also write the rows as JSON");
        var command = new Command(name, (floorOnly
            ? "The floor alone: the same durable work per message as Herald with the least code."
            : "Herald against the floor, the same durable work per message with the least code, side by side in one run.")
            + " AppHost settings may follow the options (--Kafka:Producer:linger.ms=5, --Herald:…=…).")
        {
            messages, duration, concurrency, endpoints, only, json,
        };
        command.WithHeraldSettings();
        command.SetAction(result => result.TryGetHeraldSettings(out var settings)
            ? RunAsync(result.GetValue(messages), result.GetSeconds(duration), result.GetValue(concurrency), result.GetValue(endpoints),
                latencyOnly: result.GetValue(only) is not null, result.GetValue(json), settings, floorOnly)
            : Task.FromResult(2));
        return command;
    }

    /// <param name="settings">AppHost settings (<c>--Kafka:…=…</c>, <c>--Herald:…=…</c>).</param>
    public static async Task<int> RunAsync(int messages, TimeSpan duration, int concurrency, int endpoints, bool latencyOnly,
        string? json, IReadOnlyList<string> settings, bool floorOnly)
    {
        var clock = Stopwatch.StartNew();

        Console.WriteLine("Starting the receiver, the Herald AppHost (local mode) and the floor on its PostgreSQL and Kafka...");
        await using var receiver = await Receiver.StartAsync();
        await using var herald = await HeraldUnderTest.StartAsync(
            ["--Herald:Delivery:AllowedNetworks:0=127.0.0.0/8", "--Logging:LogLevel:Herald=Warning", .. settings]);
        await using var floor = await FloorTarget.StartAsync(herald, receiver, endpoints);
        Target[] targets = floorOnly ? [floor] : [floor, await HeraldTarget.CreateAsync(herald, receiver, endpoints)];
        var database = (await herald.App.GetConnectionStringAsync("herald"))!;

        Console.WriteLine("Warming up (JIT, pools, consumer groups)...");
        foreach (var target in targets)
        {
            await SaturateAsync(target, receiver, 5_000, concurrency);
            await Arrivals.MeasureAsync(target, receiver, 200, TimeSpan.FromSeconds(3));
        }

        var results = targets.ToDictionary(t => t, _ => new Dictionary<string, double>());
        foreach (var rate in new[] { 200, 1000 })
        {
            foreach (var target in targets)
            {
                Console.WriteLine($"{target.Name}: 202 → arrival at {rate:N0} msg/s for {duration.TotalSeconds:0} s...");
                await SettleAsync(database);
                var latency = await Arrivals.MeasureAsync(target, receiver, rate, duration);
                if (await target.DescribeStagesAsync(latency.Ids) is { } stages) Console.WriteLine($"  {stages}");
                results[target][$"p50 at {rate}"] = latency.P50;
                results[target][$"p99 at {rate}"] = latency.P99;
                results[target][$"lost at {rate}"] = latency.Accepted - latency.Arrived;
            }
        }
        var cpu = targets.ToDictionary(t => t, _ => (IReadOnlyList<(string Program, double Milliseconds)>)[]);
        foreach (var target in latencyOnly ? [] : targets)
        {
            Console.WriteLine($"{target.Name}: {messages:N0} messages as fast as it takes them, until all have arrived...");
            await SettleAsync(database);
            var before = CpuUse.Now();
            var saturated = await SaturateAsync(target, receiver, messages, concurrency);
            cpu[target] = [.. CpuUse.Now().PerUnitSince(before, messages).Where(p => target.Programs.Contains(p.Program))];
            results[target]["throughput"] = saturated;
        }
        var peaks = CpuUse.Now().PeakResidentMiB();
        foreach (var target in latencyOnly ? [] : targets)
        {
            Console.WriteLine($"{target.Name}: ingest alone (processing stopped) for {duration.TotalSeconds:0} s...");
            await SettleAsync(database);
            await target.StopProcessingAsync();
            results[target]["ingest"] = await IngestAsync(target, duration, concurrency);
        }

        var rows = new List<CostRow>();
        if (floorOnly)
        {
            PrintFloor(results[floor], cpu[floor], peaks);
        }
        else
        {
            var heraldTarget = targets[1];
            double Of(Target t, string key) => results[t].GetValueOrDefault(key, double.NaN);
            double CpuOf(Target t, params string[] programs) => cpu[t].Where(p => programs.Contains(p.Program)).Sum(p => p.Milliseconds);
            rows.Add(new("end-to-end throughput at saturation (accepted and delivered per s)", Of(floor, "throughput"), Of(heraldTarget, "throughput"), "msg/s"));
            rows.Add(new("CPU-ms per delivered message, all programs", CpuOf(floor, [.. floor.Programs]), CpuOf(heraldTarget, [.. heraldTarget.Programs]), "ms"));
            rows.Add(new("CPU-ms per delivered message, API", CpuOf(floor, CpuUse.FloorApi), CpuOf(heraldTarget, CpuUse.Api), "ms"));
            rows.Add(new("CPU-ms per delivered message, Processor", CpuOf(floor, CpuUse.FloorProcessor), CpuOf(heraldTarget, CpuUse.Processor), "ms"));
            rows.Add(new("CPU-ms per delivered message, PostgreSQL", CpuOf(floor, CpuUse.Postgres), CpuOf(heraldTarget, CpuUse.Postgres), "ms"));
            rows.Add(new("CPU-ms per delivered message, Redis", CpuOf(floor, CpuUse.Redis), CpuOf(heraldTarget, CpuUse.Redis), "ms"));
            rows.Add(new("CPU-ms per delivered message, load generator, receiver and Kafka mock (one process)", CpuOf(floor, CpuUse.Benchmark), CpuOf(heraldTarget, CpuUse.Benchmark), "ms"));
            rows.Add(new("ingest alone (processing stopped)", Of(floor, "ingest"), Of(heraldTarget, "ingest"), "msg/s"));
            foreach (var rate in new[] { 200, 1000 })
            {
                rows.Add(new($"202 → arrival at {rate:N0} msg/s, p50", Of(floor, $"p50 at {rate}"), Of(heraldTarget, $"p50 at {rate}"), "ms"));
                rows.Add(new($"202 → arrival at {rate:N0} msg/s, p99", Of(floor, $"p99 at {rate}"), Of(heraldTarget, $"p99 at {rate}"), "ms"));
                rows.Add(new($"accepted but not arrived within 60 s at {rate:N0} msg/s", Of(floor, $"lost at {rate}"), Of(heraldTarget, $"lost at {rate}"), "messages"));
            }
            rows.Add(new("peak RSS, API", peaks.GetValueOrDefault(CpuUse.FloorApi), peaks.GetValueOrDefault(CpuUse.Api), "MiB"));
            rows.Add(new("peak RSS, Processor (largest replica)", peaks.GetValueOrDefault(CpuUse.FloorProcessor), peaks.GetValueOrDefault(CpuUse.Processor), "MiB"));
            if (latencyOnly) rows.RemoveAll(r => !r.Measurement.Contains("arrival") && !r.Measurement.Contains("arrived"));
            Print(rows, messages, concurrency, endpoints, clock.Elapsed);
        }
        if (json is not null)
        {
            var objects = rows.Select(r => new { measurement = r.Measurement, unit = r.Unit, floor = Round(r.Floor), herald = Round(r.Herald), ratio = Round(r.Ratio) });
            await File.WriteAllTextAsync(json, JsonSerializer.Serialize(objects, new JsonSerializerOptions { WriteIndented = true }));
            Console.WriteLine($"rows written to {json}");
        }
        return 0;
    }

    // The two share one PostgreSQL: without this, the vacuum and checkpoint that one's writes set off would run in the
    // other's measurement, and be counted as its CPU.
    private static async Task SettleAsync(string database)
    {
        await using var connection = new NpgsqlConnection(database);
        await connection.OpenAsync();
        await using var vacuum = new NpgsqlCommand("VACUUM (ANALYZE)", connection) { CommandTimeout = 300 };
        await vacuum.ExecuteNonQueryAsync();
        await using var checkpoint = new NpgsqlCommand("CHECKPOINT", connection) { CommandTimeout = 300 };
        await checkpoint.ExecuteNonQueryAsync();
    }

    private static double? Round(double value) => double.IsFinite(value) ? Math.Round(value, 3) : null;

    // Closed loop: `concurrency` senders until `count` messages are accepted; then until every one has arrived.
    // Messages per second from the first send to the last arrival.
    private static async Task<double> SaturateAsync(Target target, Receiver receiver, int count, int concurrency)
    {
        using var http = target.CreateClient();
        receiver.Reset();
        var next = -1;
        var accepted = 0;
        var started = Stopwatch.GetTimestamp();
        await Task.WhenAll(Enumerable.Range(0, concurrency).Select(async _ =>
        {
            while (Interlocked.Increment(ref next) < count)
            {
                if (await target.SendAsync(http, next) is not null) Interlocked.Increment(ref accepted);
            }
        }));
        var deadline = Stopwatch.StartNew();
        while (receiver.Count < accepted && deadline.Elapsed < TimeSpan.FromMinutes(5)) await Task.Delay(10);
        return receiver.Count / Stopwatch.GetElapsedTime(started, receiver.Last).TotalSeconds;
    }

    private static async Task<double> IngestAsync(Target target, TimeSpan duration, int concurrency)
    {
        using var http = target.CreateClient();
        var accepted = 0;
        var next = -1;
        var clock = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, concurrency).Select(async _ =>
        {
            while (clock.Elapsed < duration)
            {
                if (await target.SendAsync(http, Interlocked.Increment(ref next)) is not null) Interlocked.Increment(ref accepted);
            }
        }));
        return accepted / clock.Elapsed.TotalSeconds;
    }

    private static void Print(IReadOnlyList<CostRow> rows, int messages, int concurrency, int endpoints, TimeSpan elapsed)
    {
        Console.WriteLine();
        Console.WriteLine("| measurement | floor | Herald | ratio (Herald ÷ floor) |");
        Console.WriteLine("| --- | --- | --- | --- |");
        foreach (var row in rows)
            Console.WriteLine($"| {row.Measurement} | {Format(row.Floor, row.Unit)} | {Format(row.Herald, row.Unit)} | {(double.IsFinite(row.Ratio) ? row.Ratio.ToString("0.00", CultureInfo.InvariantCulture) + "×" : "–")} |");
        Console.WriteLine();
        Console.WriteLine($"Saturation: {messages:N0} messages from {concurrency} concurrent senders, spread over {endpoints} endpoints; latency: open loop, " +
                          "one endpoint per message. Each measurement ran the floor, then Herald, while the other idled, on the same 2 cores as " +
                          "PostgreSQL, Redis, the Kafka mock (in the benchmark process), the receiver and the load generator.");
        Console.WriteLine($"machine: {Environment.ProcessorCount} cores, {Environment.OSVersion}, .NET {Environment.Version}; {elapsed.TotalMinutes:0.0} min");
    }

    private static void PrintFloor(Dictionary<string, double> results, IReadOnlyList<(string Program, double Milliseconds)> cpu, IReadOnlyDictionary<string, double> peaks)
    {
        Console.WriteLine();
        Console.WriteLine("| floor | value |");
        Console.WriteLine("| --- | --- |");
        if (results.TryGetValue("throughput", out var throughput)) Console.WriteLine($"| end-to-end throughput at saturation | {throughput:N0} msg/s |");
        if (results.TryGetValue("ingest", out var ingest)) Console.WriteLine($"| ingest alone | {ingest:N0} msg/s |");
        foreach (var rate in new[] { 200, 1000 })
            Console.WriteLine($"| 202 → arrival at {rate:N0} msg/s | p50 {results[$"p50 at {rate}"]:0.0} ms, p99 {results[$"p99 at {rate}"]:0.0} ms |");
        if (cpu.Count == 0) return;
        foreach (var (program, ms) in cpu) Console.WriteLine($"| CPU-ms per message, {program} | {ms:0.000} |");
        Console.WriteLine($"| CPU-ms per message, all | {cpu.Sum(p => p.Milliseconds):0.000} |");
        Console.WriteLine($"| peak RSS | floor API {peaks.GetValueOrDefault(CpuUse.FloorApi):0} MiB, floor Processor {peaks.GetValueOrDefault(CpuUse.FloorProcessor):0} MiB |");
    }

    private static string Format(double value, string unit) => unit switch
    {
        "msg/s" => $"{value:N0} msg/s",
        "ms" => $"{value:0.00} ms",
        "MiB" => $"{value:0} MiB",
        _ => value.ToString("N0", CultureInfo.InvariantCulture),
    };
}
