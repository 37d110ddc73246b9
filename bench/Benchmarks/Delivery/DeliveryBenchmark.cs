using System.CommandLine;
using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Herald.Bench.Cost;

namespace Herald.Bench.Delivery;

/// <summary>
/// The delivery benchmark. Throughput: a backlog of deliveries drained by both Processor replicas into a loopback
/// receiver, next to a raw HttpClient POST loop to the same receiver in the same run. Latency: messages created at a
/// fixed rate, from each 202 to the webhook's arrival.
/// </summary>
public static class DeliveryBenchmark
{
    private const string Payload = """{"order":1234,"customer":"c_42","total":99.5,"currency":"EUR"}""";

    public static Command CreateCommand()
    {
        var deliveries = Cli.Number("--deliveries", 20_000, "deliveries in the backlog the Processors drain");
        var endpoints = Cli.Number("--endpoints", 8, "endpoints on the loopback receiver");
        var rate = Cli.Number("--rate", 1000, "messages per second in the latency measurement");
        var duration = Cli.Seconds("--duration", 10, "seconds of the raw loop and of the latency measurement");
        var concurrency = Cli.Number("--concurrency", 64, "concurrent requests of the raw loop and of publishing");
        var command = new Command("delivery", "Deliveries drained by both Processor replicas next to a raw HttpClient POST loop, "
                                              + "and 202 → arrival latency at a fixed rate.")
        {
            deliveries, endpoints, rate, duration, concurrency,
        };
        command.SetAction(result => RunAsync(result.GetValue(deliveries), result.GetValue(endpoints), result.GetValue(rate),
            result.GetSeconds(duration), result.GetValue(concurrency)));
        return command;
    }

    public static async Task RunAsync(int deliveries, int endpointCount, int rate, TimeSpan duration, int concurrency)
    {

        Console.WriteLine("Starting the loopback receiver and the Herald AppHost (local mode)...");
        await using var receiver = await Receiver.StartAsync();
        await using var herald = await HeraldUnderTest.StartAsync(
            "--Herald:Delivery:AllowedNetworks:0=127.0.0.0/8",
            "--Logging:LogLevel:Herald=Warning");
        for (var i = 0; i < endpointCount; i++)
            await herald.CreateEndpointAsync(herald.Application, new Uri(receiver.Url, $"/throughput/{i}"), "bench.throughput");
        // The paced messages go round-robin to their own endpoints, as a platform's traffic spreads over its customers'
        // endpoints (and so over partitions and both Processors); one endpoint alone is capped by its lane's concurrency.
        var paced = await HeraldTarget.CreateAsync(herald, receiver, endpointCount);
        using var api = herald.CreateClient();

        Console.WriteLine("Warming up...");
        await RawLoopAsync(receiver, TimeSpan.FromSeconds(5), concurrency);
        await PublishAsync(api, herald, "bench.throughput", 2000, concurrency);
        await WaitForAsync(receiver, 2000L * endpointCount, TimeSpan.FromMinutes(2));
        await Arrivals.MeasureAsync(paced, receiver, rate, TimeSpan.FromSeconds(5));

        Console.WriteLine($"Raw loop for {duration.TotalSeconds:0} s, {concurrency} concurrent...");
        var raw = await RawLoopAsync(receiver, duration, concurrency);

        var messages = deliveries / endpointCount;
        Console.WriteLine($"Queuing {messages:N0} messages × {endpointCount} endpoints with the Processors stopped...");
        await herald.StopProcessorsAsync();
        await PublishAsync(api, herald, "bench.throughput", messages, concurrency);
        receiver.Reset();
        var beforeDrain = CpuUse.Now();
        await herald.StartProcessorsAsync();
        var drained = await WaitForAsync(receiver, (long)messages * endpointCount, TimeSpan.FromMinutes(5));
        var drainSeconds = Stopwatch.GetElapsedTime(receiver.First, receiver.Last).TotalSeconds;
        var drainRate = (receiver.Count - 1) / Math.Max(drainSeconds, 0.001);

        var drainCpu = CpuUse.Now().PerUnitSince(beforeDrain, messages * endpointCount);

        Console.WriteLine($"Creating messages at {rate:N0}/s for {duration.TotalSeconds:0} s...");
        var beforePaced = CpuUse.Now();
        var latency = await Arrivals.MeasureAsync(paced, receiver, rate, duration);
        var pacedCpu = CpuUse.Now().PerUnitSince(beforePaced, latency.Sent);

        Console.WriteLine();
        Console.WriteLine("| measurement | value | target |");
        Console.WriteLine("| --- | --- | --- |");
        Console.WriteLine($"| raw HttpClient POST loop → receiver ({concurrency} concurrent) | {raw:N0} req/s | baseline |");
        Console.WriteLine($"| Herald draining {messages * endpointCount:N0} deliveries (2 Processors, {endpointCount} endpoints) | {drainRate:N0} deliveries/s{(drained ? "" : " (timed out)")} | |");
        Console.WriteLine($"| ratio Herald / raw loop | {drainRate / raw:P0} | ≥ 50 % |");
        Console.WriteLine($"| E2E 202 → arrival at {rate:N0} msg/s over {endpointCount} endpoints | p50 {latency.P50:0.0} ms, p99 {latency.P99:0.0} ms, max {latency.Max:0.0} ms | p50 ≤ 15 ms, p99 ≤ 100 ms |");
        Console.WriteLine($"| messages at {rate:N0} msg/s | {latency.Sent:N0} sent, {latency.Accepted:N0} accepted, {latency.Arrived:N0} arrived, {latency.Late:N0} sent > 10 ms late | all arrive |");
        Console.WriteLine();
        Console.WriteLine("CPU per delivery, by program (ms); the drain includes the restarted Processors' start-up:");
        Console.WriteLine();
        Console.WriteLine($"| program | draining | at {rate:N0} msg/s (incl. ingest) |");
        Console.WriteLine("| --- | --- | --- |");
        foreach (var program in drainCpu.Select(p => p.Program).Union(pacedCpu.Select(p => p.Program)))
            Console.WriteLine($"| {program} | {Find(drainCpu, program):0.000} | {Find(pacedCpu, program):0.000} |");
        Console.WriteLine($"| total | {drainCpu.Sum(p => p.Milliseconds):0.000} | {pacedCpu.Sum(p => p.Milliseconds):0.000} |");
        Console.WriteLine();
        Console.WriteLine($"machine: {Environment.ProcessorCount} cores, {Environment.OSVersion}, .NET {Environment.Version}");
    }

    private static double Find(IReadOnlyList<(string Program, double Milliseconds)> use, string program) =>
        use.FirstOrDefault(p => p.Program == program).Milliseconds;

    // The baseline: what this machine does posting the same body to the same receiver with nothing in between.
    private static async Task<double> RawLoopAsync(Receiver receiver, TimeSpan duration, int concurrency)
    {
        using var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = concurrency, PooledConnectionLifetime = Timeout.InfiniteTimeSpan });
        var url = new Uri(receiver.Url, "/raw");
        long sent = 0;
        var clock = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, concurrency).Select(async _ =>
        {
            while (clock.Elapsed < duration)
            {
                using var content = new StringContent(Payload, Encoding.UTF8, "application/json");
                using var response = await http.PostAsync(url, content);
                if (response.IsSuccessStatusCode) Interlocked.Increment(ref sent);
            }
        }));
        return sent / clock.Elapsed.TotalSeconds;
    }

    private static async Task PublishAsync(HttpClient api, HeraldUnderTest herald, string eventType, int count, int concurrency)
    {
        var next = -1;
        var body = $$"""{"eventType":"{{eventType}}","payload":{{Payload}}}""";
        await Task.WhenAll(Enumerable.Range(0, concurrency).Select(async _ =>
        {
            while (Interlocked.Increment(ref next) < count)
            {
                using var content = new StringContent(body, Encoding.UTF8, "application/json");
                using var response = await api.PostAsync(herald.MessagesUrl, content);
                if (response.StatusCode != HttpStatusCode.Accepted) throw new InvalidOperationException($"create-message answered {response.StatusCode}");
            }
        }));
    }

    private static async Task<bool> WaitForAsync(Receiver receiver, long count, TimeSpan timeout)
    {
        var deadline = Stopwatch.StartNew();
        while (receiver.Count < count && deadline.Elapsed < timeout) await Task.Delay(20);
        return receiver.Count >= count;
    }
}
