using System.CommandLine;
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
    public static Command CreateCommand()
    {
        var list = Cli.Flag("--list", "list the faults, with their default durations");
        var only = Cli.Text("--only", "NAME[,NAME]", "run these rows only");
        var json = Cli.Text("--json", "FILE", "also write the rows as JSON (keys are the column names)");
        var rate = Cli.Number("--rate", 100, "create-message requests per second");
        var applications = Cli.Number("--applications", 3, "applications the stream goes round");
        var endpoints = Cli.Number("--endpoints", 2, "endpoints per application, each subscribed to everything");
        var before = Cli.Seconds("--before", 10, "seconds of stream before the fault");
        var after = Cli.Seconds("--after", 20, "seconds of stream at least after the fault is healed; it goes on until the last "
                                               + $"{MatrixSettings.NormalSpan.TotalSeconds:0} s of messages were delivered in normal time (see recovery), at most --after-max");
        var afterMax = Cli.Seconds("--after-max", 90, "seconds of stream at most after the heal");
        var settle = Cli.Seconds("--settle", 90, "seconds after the stream to wait for deliveries");
        var logs = Cli.Text("--logs", "DIR", "where every resource's console output goes (default: a new folder under $TMPDIR/herald-faults)");
        // One option per fault that lasts, named after it: how long it lasts.
        var durations = FaultCatalog.All
            .Where(f => f.Duration is not null)
            .ToDictionary(f => f.Name, f => Cli.Seconds("--" + f.Name, (int)f.Duration!.Value.TotalSeconds, $"how long {f.Name} lasts"));

        // Each row starts its own Herald (about 30-60 s here) and stops it afterwards: a clean database, broker, consumer
        // group and Redis per row. A shared Herald would carry one row's damage into the next — retries scheduled minutes
        // ahead, a consumer group left with two owners of a partition after an outage, a restarted process the
        // orchestrator no longer tracks — and no row could be read on its own.
        var command = new Command("faults", "The fault matrix: per row a fresh Herald (local mode, two Processor replicas) under a paced "
                                            + "stream to a loopback receiver, one fault injected mid-stream, then what was lost, duplicated "
                                            + "or late and how long it took to recover.")
        {
            list, only, json, rate, applications, endpoints, before, after, afterMax, settle, logs,
        };
        foreach (var duration in durations.Values) command.Options.Add(duration);
        command.SetAction(result => RunAsync(
            [.. FaultCatalog.All.Select(f => durations.TryGetValue(f.Name, out var duration) ? f with { Duration = result.GetSeconds(duration) } : f)],
            result.GetValue(list),
            result.GetValue(only),
            result.GetValue(json),
            new MatrixSettings(
                Rate: result.GetValue(rate),
                Applications: result.GetValue(applications),
                Endpoints: result.GetValue(endpoints),
                Before: result.GetSeconds(before),
                After: result.GetSeconds(after),
                AfterMax: result.GetSeconds(afterMax),
                Settle: result.GetSeconds(settle),
                Logs: result.GetValue(logs) ?? Path.Combine(Path.GetTempPath(), "herald-faults", DateTime.Now.ToString("yyyyMMdd-HHmmss", CultureInfo.InvariantCulture)))));
        return command;
    }

    /// <param name="faults">Every fault, with the durations asked for.</param>
    /// <param name="only">Comma-separated names of the rows to run; null runs every row.</param>
    public static async Task<int> RunAsync(IReadOnlyList<Fault> faults, bool list, string? only, string? json, MatrixSettings settings)
    {
        if (list)
        {
            foreach (var fault in faults)
                Console.WriteLine($"{fault.Name,-18} {(fault.Duration is { } d ? $"{d.TotalSeconds:0} s" : ""),-5} {fault.Description}");
            return 0;
        }
        if (only is not null)
        {
            var names = only.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            if (names.Except(faults.Select(f => f.Name)).ToList() is [_, ..] unknown)
            {
                Console.Error.WriteLine($"unknown fault(s): {string.Join(", ", unknown)}; --list shows them");
                return 2;
            }
            faults = [.. faults.Where(f => names.Contains(f.Name))];
        }

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
        if (json is not null)
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
