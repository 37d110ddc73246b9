using System.CommandLine;

namespace Herald.Bench.Ingest;

/// <summary>
/// The ingest benchmark: create-message throughput against a bare Kestrel JSON echo measured in the same run on the
/// same machine, and create-message latency at half the measured throughput. Needs wrk (Debian: apt-get install wrk).
/// </summary>
public static class IngestBenchmark
{
    public static Command CreateCommand()
    {
        var duration = Cli.Seconds("--duration", 10, "seconds per measurement");
        var connections = Cli.Number("--connections", 64, "wrk's connections");
        // Long enough for tiered compilation to finish in every process: with two cores shared by the API, the Processor,
        // PostgreSQL, Redis and the broker, a short warm-up measures the JIT rather than Herald.
        var warmup = Cli.Seconds("--warmup", 20, "seconds of warm-up against Herald (a quarter of it against the echo)");
        var command = new Command("ingest", "Create-message throughput against a bare Kestrel JSON echo, and latency at half that rate (needs wrk).")
        {
            duration, connections, warmup,
        };
        command.SetAction(result => RunAsync(result.GetSeconds(duration), result.GetValue(connections), result.GetSeconds(warmup)));
        return command;
    }

    public static async Task RunAsync(TimeSpan duration, int connections, TimeSpan warmup)
    {
        Wrk.RequireInstalled();

        Console.WriteLine("Starting the echo baseline and the Herald AppHost (local mode)...");
        await using var echo = await EchoServer.StartAsync();
        await using var herald = await HeraldUnderTest.StartAsync();
        var body = """{"eventType":"bench.event","payload":{"order":1234,"customer":"c_42","total":99.5}}""";

        Console.WriteLine($"Warming up for {warmup.TotalSeconds:0} s, then {duration.TotalSeconds:0} s per measurement, {connections} connections...");
        await Wrk.RunAsync(echo.Url, body, null, warmup / 4, connections);
        await Wrk.RunAsync(herald.MessagesUrl, body, herald.ApiKey, warmup, connections);

        var baseline = await Wrk.RunAsync(echo.Url, body, null, duration, connections);
        var ingest = await Wrk.RunAsync(herald.MessagesUrl, body, herald.ApiKey, duration, connections);
        var rate = Math.Max(1, (int)(ingest.RequestsPerSecond / 2));
        var paced = await OpenLoop.RunAsync(herald.MessagesUrl, body, herald.ApiKey, rate, duration);
        // On two cores the Processor consuming every message competes with the API; without it, the API's own ceiling.
        await herald.StopProcessorsAsync();
        var alone = await Wrk.RunAsync(herald.MessagesUrl, body, herald.ApiKey, duration, connections);
        var stored = await herald.CountMessagesAsync();

        var ratio = ingest.RequestsPerSecond / baseline.RequestsPerSecond;
        Console.WriteLine();
        Console.WriteLine("| measurement | value | target |");
        Console.WriteLine("| --- | --- | --- |");
        Console.WriteLine($"| bare Kestrel JSON POST echo | {baseline.RequestsPerSecond:N0} req/s (p50 {baseline.P50:0.0} ms, p99 {baseline.P99:0.0} ms) | baseline |");
        Console.WriteLine($"| create-message, saturated | {ingest.RequestsPerSecond:N0} msg/s (p50 {ingest.P50:0.0} ms, p99 {ingest.P99:0.0} ms), {ingest.Errors} errors | |");
        Console.WriteLine($"| ratio create-message / echo | {ratio:P0} | ≥ 60 % |");
        Console.WriteLine($"| create-message at {rate:N0} msg/s (half) | p50 {paced.P50:0.0} ms, p99 {paced.P99:0.0} ms, {paced.Sent:N0} sent, {paced.Errors} errors, {paced.Late:N0} sent late | p99 ≤ 20 ms |");
        Console.WriteLine($"| create-message, Processor stopped | {alone.RequestsPerSecond:N0} msg/s (p50 {alone.P50:0.0} ms, p99 {alone.P99:0.0} ms), {alone.Errors} errors; ratio {alone.RequestsPerSecond / baseline.RequestsPerSecond:P0} | |");
        Console.WriteLine($"| messages committed in PostgreSQL | {stored:N0} | every 202 |");
        Console.WriteLine();
        Console.WriteLine($"machine: {Environment.ProcessorCount} cores, {Environment.OSVersion}, .NET {Environment.Version}");
    }
}
