using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Herald.Bench.Delivery;
using Herald.Bench.Faults.Injectors;
using Microsoft.Extensions.DependencyInjection;

namespace Herald.Bench.Faults;

/// <summary>
/// The fault matrix: Herald under a paced stream, one fault injected mid-stream per row, then counted Jepsen-style —
/// what was accepted, delivered, lost, duplicated, late, and how long it took to recover.
/// </summary>
public static class FaultMatrix
{
    public const string Help = """
        usage: dotnet run -c Release --project bench/Benchmarks -- faults [options]

        Starts Herald (local mode, two Processor replicas), streams create-message requests at a fixed rate over several
        applications and endpoints to a loopback receiver, injects one fault mid-stream, waits for every accepted message
        to reach every endpoint (or a timeout), and prints one row per fault.

        Each row starts its own Herald (about 30-60 s here) and stops it afterwards: a clean database, broker, consumer
        group and Redis per row. A shared Herald would carry one row's damage into the next — retries scheduled minutes
        ahead, a consumer group left with two owners of a partition after an outage, a restarted process the
        orchestrator no longer tracks — and no row could be read on its own.

          --list                 the faults, with their default durations
          --only NAME[,NAME]     run these rows only
          --json FILE            also write the rows as JSON (keys are the column names)
          --rate N               create-message requests per second (100)
          --applications N       applications the stream goes round (3)
          --endpoints N          endpoints per application, each subscribed to everything (2)
          --before S             seconds of stream before the fault (10)
          --after S              seconds of stream at least after the fault is healed (20); it goes on until the last
                                 5 s of messages were delivered in normal time (see recovery), at most --after-max
          --after-max S          seconds of stream at most after the heal (90)
          --settle S             seconds after the stream to wait for deliveries (90)
          --logs DIR             where every resource's console output goes (default: a new folder under $TMPDIR/herald-faults)
          --<fault> S            how long that fault lasts, for faults that last (e.g. --processor-freeze 60)
        """;

    public static async Task<int> RunAsync(string[] args)
    {
        if (Options.Flag(args, "--help"))
        {
            Console.WriteLine(Help);
            return 0;
        }
        var faults = FaultCatalog.All
            .Select(f => f.Duration is null ? f : f with { Duration = TimeSpan.FromSeconds(Options.Get(args, "--" + f.Name, (int)f.Duration.Value.TotalSeconds)) })
            .ToList();
        if (Options.Flag(args, "--list"))
        {
            foreach (var fault in faults)
                Console.WriteLine($"{fault.Name,-18} {(fault.Duration is { } d ? $"{d.TotalSeconds:0} s" : ""),-5} {fault.Description}");
            return 0;
        }
        if (Options.Text(args, "--only") is { } only)
        {
            var names = only.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            if (names.Except(faults.Select(f => f.Name)).ToList() is [_, ..] unknown)
            {
                Console.Error.WriteLine($"unknown fault(s): {string.Join(", ", unknown)}; --list shows them");
                return 2;
            }
            faults = [.. faults.Where(f => names.Contains(f.Name))];
        }
        var settings = new MatrixSettings(
            Rate: Options.Get(args, "--rate", 100),
            Applications: Options.Get(args, "--applications", 3),
            Endpoints: Options.Get(args, "--endpoints", 2),
            Before: TimeSpan.FromSeconds(Options.Get(args, "--before", 10)),
            After: TimeSpan.FromSeconds(Options.Get(args, "--after", 20)),
            AfterMax: TimeSpan.FromSeconds(Options.Get(args, "--after-max", 90)),
            Settle: TimeSpan.FromSeconds(Options.Get(args, "--settle", 90)),
            Logs: Options.Text(args, "--logs") ?? Path.Combine(Path.GetTempPath(), "herald-faults", DateTime.Now.ToString("yyyyMMdd-HHmmss", CultureInfo.InvariantCulture)));

        var clock = Stopwatch.StartNew();
        Console.WriteLine($"Fault matrix: {faults.Count} rows, {settings.Rate} msg/s over {settings.Applications} applications × {settings.Endpoints} endpoints; logs in {settings.Logs}");
        await using var receiver = await Receiver.StartAsync();
        var rows = new List<FaultRow>();
        foreach (var fault in faults)
        {
            var row = await RunRowAsync(fault, receiver, settings);
            rows.Add(row);
            Console.WriteLine($"  {row.Fault}: sent {row.Sent}, 202 {row.Accepted}, lost {row.Lost}, duplicated {row.Duplicated}{(row.Error is null ? "" : $", FAILED: {row.Error}")} ({clock.Elapsed.TotalMinutes:0.0} min so far)");
        }

        Console.WriteLine();
        FaultTable.Print(rows, faults, settings, clock.Elapsed);
        if (Options.Text(args, "--json") is { } json)
        {
            await File.WriteAllTextAsync(json, JsonSerializer.Serialize(rows, new JsonSerializerOptions { WriteIndented = true }));
            Console.WriteLine($"rows written to {json}");
        }
        return rows.Any(r => r.Error is not null) ? 1 : 0;
    }

    private static async Task<FaultRow> RunRowAsync(Fault fault, Receiver receiver, MatrixSettings settings)
    {
        Console.WriteLine($"[{fault.Name}] starting Herald...");
        var started = Stopwatch.GetTimestamp();
        // A row that hangs (a restart that never comes) must not hold up the rest of the matrix. The slack covers
        // start-up (at most 3 min), the wait for a balanced group (2 min) and a restart within the fault (2 min).
        using var abort = new CancellationTokenSource(settings.Before + (fault.Duration ?? TimeSpan.Zero) + settings.AfterMax + settings.Settle + TimeSpan.FromMinutes(8));
        var deliveries = new DeliveryLog();
        receiver.Replies = () => Reply.Ok;
        receiver.Answered = deliveries.Note;
        try
        {
            var assignments = new ConsumerAssignments();
            await using var herald = await HeraldUnderTest.StartAsync([.. MatrixSettings.AppHostSettings, .. fault.Settings]);
            await using var logs = new ResourceLogs(herald.App, Path.Combine(settings.Logs, fault.Name), started, assignments.Note);
            logs.Start();
            Console.WriteLine($"[{fault.Name}] Herald ready after {Stopwatch.GetElapsedTime(started).TotalSeconds:0} s");

            var applications = new List<BenchApplication>();
            var endpoints = new List<IReadOnlyList<string>>();
            for (var a = 0; a < settings.Applications; a++)
            {
                var application = await herald.CreateApplicationAsync($"faults-{a}");
                var paths = Enumerable.Range(0, settings.Endpoints).Select(e => $"/{fault.Name}/a{a}/e{e}").ToList();
                foreach (var path in paths) await herald.CreateEndpointAsync(application, new Uri(receiver.Url, path));
                applications.Add(application);
                endpoints.Add(paths);
            }
            var outcomes = new StreamDeliveries(deliveries, endpoints);
            var processors = await ResourceRestarts.InstancesAsync(herald.App, "processor", HeraldUnderTest.ProcessorReplicas, abort.Token);
            var run = new FaultRun(fault, herald, receiver, processors, assignments, abort.Token);
            // Faults are injected into a steady state: both replicas consuming. Start-up is not the fault under test.
            var balancing = Stopwatch.StartNew();
            while (!assignments.Balanced(processors) && balancing.Elapsed < MatrixSettings.BalanceTimeout) await Task.Delay(250, abort.Token);
            if (!assignments.Balanced(processors) || balancing.Elapsed > TimeSpan.FromSeconds(15))
                run.Note($"before the stream, {balancing.Elapsed.TotalSeconds:0} s waiting for both replicas to own partitions: {assignments.Describe(processors)}");

            using var stopStream = new CancellationTokenSource();
            using var stopProbe = new CancellationTokenSource();
            try
            {
                var probe = new ReadinessProbe(herald.CurrentApiManagement).RunAsync(stopProbe.Token);
                var messages = new MessageStream(herald, applications, settings.Rate);
                var stream = messages.RunAsync(stopStream.Token);
                await Task.Delay(settings.Before, abort.Token);
                Console.WriteLine($"[{fault.Name}] injecting at +{Stopwatch.GetElapsedTime(started).TotalSeconds:0.0} s (log clock)");
                await fault.InjectAsync(run);
                var baselineFrom = run.InjectedAt!.Value - (long)(settings.Before.TotalSeconds / 2 * Stopwatch.Frequency);
                await StreamUntilNormalAsync(messages, outcomes, baselineFrom, run, settings, abort.Token);
                await stopStream.CancelAsync();
                var requests = await stream;
                var streamEnd = Stopwatch.GetTimestamp();

                Console.WriteLine($"[{fault.Name}] stream ended; waiting for deliveries...");
                var settled = await SettleAsync(requests, outcomes, settings.Settle, abort.Token);
                var settle = Stopwatch.GetElapsedTime(streamEnd);
                var rowEnd = Stopwatch.GetTimestamp();
                await stopProbe.CancelAsync();
                var polls = await probe;
                var observation = new RowObservation(fault.Name, requests, outcomes, polls,
                    InjectedAt: run.InjectedAt!.Value,
                    WindowEnd: fault.Persists ? requests[^1].DueAt : run.HealedAt!.Value,
                    RecoveryFrom: fault.Persists ? run.InjectedAt.Value : run.HealedAt!.Value,
                    BaselineFrom: baselineFrom,
                    EndedAt: rowEnd,
                    settled, settle, run.Notes);
                var row = observation.ToRow();
                await observation.WriteTimelineAsync(Path.Combine(settings.Logs, fault.Name, "timeline.csv"));
                run.Note($"partitions at the end: {assignments.Describe(processors)}");
                if (fault.AfterAsync is not null) await fault.AfterAsync(run);
                return row with { Notes = [.. run.Notes] };
            }
            finally
            {
                // A failed row stops its load too.
                await stopStream.CancelAsync();
                await stopProbe.CancelAsync();
            }
        }
        catch (Exception exception)
        {
            Console.WriteLine($"[{fault.Name}] failed: {exception}");
            return new FaultRow { Fault = fault.Name, Error = exception.GetType().Name + ": " + exception.Message };
        }
        finally
        {
            receiver.Answered = null;
            receiver.Replies = () => Reply.Ok;
        }
    }

    // The stream goes on for at least settings.After past the heal, and then until the messages accepted in the last
    // few seconds all reached their endpoints in normal time (so that recovery is seen, not cut off), or AfterMax.
    private static async Task StreamUntilNormalAsync(MessageStream messages, StreamDeliveries outcomes, long baselineFrom, FaultRun run,
        MatrixSettings settings, CancellationToken cancellationToken)
    {
        var from = run.Fault.Persists ? run.InjectedAt!.Value : run.HealedAt!.Value;
        if (settings.After - Stopwatch.GetElapsedTime(from) is { Ticks: > 0 } rest) await Task.Delay(rest, cancellationToken);
        var normal = TimeSpan.FromMilliseconds(StreamDeliveries.NormalMs(outcomes.BaselineP99(messages.Snapshot(), baselineFrom, run.InjectedAt!.Value)));
        var span = (long)(MatrixSettings.NormalSpan.TotalSeconds * Stopwatch.Frequency);
        while (Stopwatch.GetElapsedTime(from) < settings.AfterMax)
        {
            var until = Stopwatch.GetTimestamp() - (long)(normal.TotalSeconds * Stopwatch.Frequency);
            if (outcomes.AllNormal(messages.Snapshot(), normal.TotalMilliseconds, until - span, until)) return;
            await Task.Delay(1000, cancellationToken);
        }
    }

    // Until every accepted message has reached every endpoint of its application and nothing has arrived for a few
    // seconds (late duplicates), or the timeout.
    private static async Task<bool> SettleAsync(IReadOnlyList<CreateMessage> requests, StreamDeliveries outcomes, TimeSpan timeout,
        CancellationToken cancellationToken)
    {
        var missing = outcomes.Of(requests).Where(d => d.Seen is not { Successes: > 0 }).Select(d => d.Request).ToList();
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            missing = [.. outcomes.Of(missing.Distinct()).Where(d => d.Seen is not { Successes: > 0 }).Select(d => d.Request)];
            if (missing.Count == 0 && Stopwatch.GetElapsedTime(outcomes.Log.LastArrivalAt) >= MatrixSettings.Quiet) return true;
            if (deadline.Elapsed >= timeout) return missing.Count == 0;
            await Task.Delay(250, cancellationToken);
        }
    }
}

/// <summary>The matrix's own settings (the faults' durations are on each <see cref="Fault"/>).</summary>
public sealed record MatrixSettings(int Rate, int Applications, int Endpoints, TimeSpan Before, TimeSpan After, TimeSpan AfterMax, TimeSpan Settle, string Logs)
{
    /// <summary>The stream goes on past <see cref="After"/> until this much of it was delivered in normal time.</summary>
    public static readonly TimeSpan NormalSpan = TimeSpan.FromSeconds(5);

    /// <summary>How long nothing may arrive before a row counts as settled: duplicates come after first deliveries.</summary>
    public static readonly TimeSpan Quiet = TimeSpan.FromSeconds(5);

    /// <summary>How long a row waits for both replicas to own partitions before it starts anyway (and says so).</summary>
    public static readonly TimeSpan BalanceTimeout = TimeSpan.FromMinutes(2);

    /// <summary>AppHost arguments of every row, besides <see cref="HeraldUnderTest.Settings"/> and a row's own.</summary>
    public static readonly IReadOnlyList<string> AppHostSettings =
    [
        // The receiver is on loopback, which delivery refuses unless allowed.
        "--Herald:Delivery:AllowedNetworks:0=127.0.0.0/8",
    ];
}
