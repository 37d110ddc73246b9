using System.Globalization;

namespace Herald.Bench.Faults;

/// <summary>The matrix as Markdown tables, with the definitions of their columns and the settings they ran with.</summary>
public static class FaultTable
{
    public static void Print(IReadOnlyList<FaultRow> rows, IReadOnlyList<Fault> faults, MatrixSettings settings, TimeSpan elapsed)
    {
        Console.WriteLine("| fault | sent | 202 | refused (by status) | delivered (distinct webhook-id) | lost | duplicated | late > 10 s | recovery (s) | API ready throughout |");
        Console.WriteLine("| --- | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | --- |");
        foreach (var row in rows)
        {
            if (row.Error is not null)
            {
                Console.WriteLine($"| {row.Fault} | failed: {row.Error.Replace('|', '/')} | | | | | | | | |");
                continue;
            }
            Console.WriteLine($"| {row.Fault} | {row.Sent} | {row.Accepted} | {Counts(row.Refused)} | {row.Delivered} | {row.Lost} | {row.Duplicated} | {row.Late} | {Recovery(row)} | {YesNo(row.ApiReadyThroughout)} |");
        }
        Console.WriteLine();
        Console.WriteLine("| fault | fault window (s) | create-message in window: n, p50 / p99 / max (ms) | API /readyz in window | normal delivery ≤ (ms) | lost deliveries | delivered without a 202 | receiver 5xx / slow | settled (s) |");
        Console.WriteLine("| --- | ---: | --- | --- | ---: | ---: | ---: | --- | --- |");
        foreach (var row in rows.Where(r => r.Error is null))
        {
            Console.WriteLine($"| {row.Fault} | {row.Window:0.0} | {row.WindowRequests}, {Ms(row.CreateP50)} / {Ms(row.CreateP99)} / {Ms(row.CreateMax)} | " +
                              $"{(row.ApiReadyThroughout == true ? "ready" : $"unready {row.ApiUnready:0.0} s")} ({Counts(row.ApiPolls)}) | " +
                              $"{row.NormalUpTo:0} | {row.LostDeliveries} | {row.DeliveredWithout202} | {row.ReceiverFailures} / {row.ReceiverSlow} | " +
                              $"{(row.Settled ? "yes" : "no")}, {row.Settle:0} |");
        }
        Console.WriteLine();
        Console.WriteLine("What happened, per row (t = seconds from the injection):");
        foreach (var row in rows.Where(r => r.Notes.Count > 0)) Console.WriteLine($"- {row.Fault}: {string.Join("; ", row.Notes)}");

        Console.WriteLine();
        Console.WriteLine(Definitions);
        Console.WriteLine();
        Console.WriteLine($"Stream: {settings.Rate} create-message requests/s round-robin over {settings.Applications} applications, each with {settings.Endpoints} endpoints " +
                          $"subscribed to every event (so 2 deliveries per message with the defaults), to a loopback receiver; {settings.Before.TotalSeconds:0} s before the fault; " +
                          $"after its heal at least {settings.After.TotalSeconds:0} s and until the messages of {MatrixSettings.NormalSpan.TotalSeconds:0} s were all delivered in normal time " +
                          $"(at most {settings.AfterMax.TotalSeconds:0} s); then up to {settings.Settle.TotalSeconds:0} s for deliveries. Client timeout {MessageStream.ClientTimeout.TotalSeconds:0} s, no client retries.");
        Console.WriteLine("Faults:");
        foreach (var fault in faults)
            Console.WriteLine($"- {fault.Name}{(fault.Duration is { } d ? $" ({d.TotalSeconds:0} s)" : "")}: {fault.Description}");
        Console.WriteLine("Herald's settings that differ from its defaults (every row): " +
                          string.Join(" ", HeraldUnderTest.Settings.Concat(MatrixSettings.AppHostSettings)) +
                          " (plus a generated admin key and a Herald:BenchRun marker that nothing reads); each row waits until both Processor " +
                          "replicas own partitions before its stream starts");
        foreach (var fault in faults.Where(f => f.Settings.Count > 0))
            Console.WriteLine($"- {fault.Name} also: {string.Join(" ", fault.Settings.Select(s => s.Contains(' ', StringComparison.Ordinal) ? $"\"{s}\"" : s))}");
        Console.WriteLine($"Resource logs: {settings.Logs}/<fault>/<instance>.log (each line prefixed with seconds since that row's Herald started)");
        Console.WriteLine($"machine: {Environment.ProcessorCount} cores, {Environment.OSVersion}, .NET {Environment.Version}; elapsed {elapsed.TotalMinutes:0.0} min");
    }

    private const string Definitions = """
        Columns:
        - sent: create-message requests the stream started. 202: answered 202 Accepted (with a message id).
        - refused (by status): the other requests, by HTTP status, or without one: connection-refused (no connection could
          be made: the request never reached a server), broken (the connection failed with the request in flight),
          timeout (no answer within the client's 10 s).
        - delivered: accepted messages whose webhook-id reached every endpoint of their application with a 2xx answered at
          once. lost: accepted messages still missing at one endpoint or more when the row ended (lost deliveries, in
          the second table, counts the message × endpoint pairs). Receiver answers that came only after Herald's request
          timeout (receiver-faults' slow 10 %) are not deliveries: Herald had given up on them.
        - duplicated: (endpoint, webhook-id) pairs answered 2xx more than once, counted until the row ended.
        - late > 10 s: deliveries (message × endpoint) whose first 2xx arrived more than 10 s after the client got its 202.
        - recovery (s): from the heal (SIGCONT, brokers up, the restarted process ready; for processor-kill, which nothing
          heals within the row, from the kill) until the last delivery whose latency (202 → first 2xx at that endpoint)
          was not normal arrived; 0 when none arrived after the heal. Normal: at most 3 × the p99 of the deliveries of
          messages sent in the second half of the time before the fault and delivered before it, and at least 1 s.
          This covers both the backlog draining and new messages being fast again. ≥: messages sent in the stream's
          last second were still slow: recovery had not ended when the stream did (--after-max past the heal).
          >: messages were still missing when the row ended (see lost): not recovered within the row; the number is
          the time from the heal to the row's end.
        - API ready throughout: every poll of the API process's own /readyz (every 250 ms, 1 s timeout, no proxy) answered
          200 within the fault window: from the injection to the heal (processor-kill: to the end of the stream).
        - fault window / create-message in window: the requests due within the fault window, latency from when each was
          due to its answer (any status, 503s included) or to the client's timeout; connection failures excluded.
        - delivered without a 202: webhook-ids that reached an endpoint although their create-message got no 202 (the
          client timed out or the connection broke after the commit).
        - receiver 5xx / slow: the receiver's deliberate failures (receiver-faults only).
        - settled: every accepted message reached every endpoint and nothing arrived for 5 s, within the settle timeout;
          the seconds are from the end of the stream. Duplicates arriving after that (a lease expiring, 2 min by
          default) are not counted.
        """;

    private static string Counts(IReadOnlyDictionary<string, int> counts) =>
        counts.Count == 0 ? "—" : string.Join(" ", counts.Select(c => $"{c.Key}:{c.Value}"));

    private static string Recovery(FaultRow row) =>
        (row.Lost > 0 ? "> " : row.RecoveryIsLowerBound ? "≥ " : "") + row.Recovery.ToString("0.0", CultureInfo.InvariantCulture);

    private static string YesNo(bool? value) => value switch { true => "yes", false => "no", null => "—" };

    private static string Ms(double? value) => value is { } ms ? ms.ToString("0", CultureInfo.InvariantCulture) : "—";
}
