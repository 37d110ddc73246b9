using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Text;
using Grpc.Core;
using Herald.ApiService.Problems;
using Herald.ServiceDefaults.Telemetry;

namespace Herald.ApiService.Telemetry;

/// <summary>
/// The API's own instruments (meter <c>Herald.ApiService</c>, exported as OTLP and on <c>/metrics</c>), named so the
/// Prometheus exporter yields <c>herald_…_total</c> and <c>herald_…_seconds</c>. Labels are bounded: application ids
/// and event types (per install; the SDK's cardinality limit caps a runaway), error kinds, gRPC methods and statuses —
/// never a message, key or URL.
/// </summary>
public sealed class ApiMetrics
{
    public const string MeterName = "Herald.ApiService";

    /// <summary>Spans the API starts itself (ASP.NET Core starts the request spans).</summary>
    public static readonly ActivitySource Tracing = new(MeterName);

    private readonly Counter<long> _accepted;
    private readonly Counter<long> _rejected;
    private readonly Counter<long> _republished;
    private readonly Counter<long> _replays;
    private readonly Histogram<double> _grpcDuration;

    public ApiMetrics(IMeterFactory meters)
    {
        var meter = meters.Create(MeterName);
        _accepted = meter.CreateCounter<long>("herald.messages.accepted", "{message}",
            "Messages committed by create-message (a repeated eventId is not counted again).");
        _rejected = meter.CreateCounter<long>("herald.messages.rejected", "{message}",
            "Create-message requests refused by the application layer, by reason (the error kind).");
        _republished = meter.CreateCounter<long>("herald.outbox.republished", "{message}",
            "Committed messages the outbox relay published to Kafka because the first publication did not happen.");
        _replays = meter.CreateCounter<long>("herald.idempotency.replays", "{request}",
            "Requests answered with the stored response of an earlier request with the same idempotency-key.");
        _grpcDuration = meter.CreateHistogram("herald.grpc.server.duration", "s",
            "gRPC calls by method and status, from the first interceptor to the status (streams: the whole stream).",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = LatencyBuckets.Seconds });

        // Series with a fixed vocabulary exist from the start, so rate() and increase() see their first event.
        foreach (var kind in Enum.GetValues<ApiErrorKind>()) _rejected.Add(0, new KeyValuePair<string, object?>("reason", SnakeCase(kind.ToString())));
        _rejected.Add(0, new KeyValuePair<string, object?>("reason", "internal"));
        _republished.Add(0);
        _replays.Add(0, new KeyValuePair<string, object?>("surface", "rest"));
        _replays.Add(0, new KeyValuePair<string, object?>("surface", "grpc"));
    }

    public void Accepted(string applicationId, string eventType) =>
        _accepted.Add(1, new KeyValuePair<string, object?>("application", applicationId), new("event_type", eventType));

    /// <summary>Counts a create-message request that ended in <paramref name="exception"/>.</summary>
    public void Rejected(Exception exception) => _rejected.Add(1, new KeyValuePair<string, object?>("reason", ReasonOf(exception)));

    public void Republished(int count)
    {
        if (count > 0) _republished.Add(count);
    }

    /// <param name="surface"><c>rest</c> or <c>grpc</c>.</param>
    public void IdempotentReplay(string surface) => _replays.Add(1, new KeyValuePair<string, object?>("surface", surface));

    /// <param name="method">The full method, e.g. <c>/herald.v1.Messages/Create</c> (a fixed set: the contract's).</param>
    public void GrpcCall(string method, StatusCode status, TimeSpan duration) =>
        _grpcDuration.Record(duration.TotalSeconds,
            new KeyValuePair<string, object?>("grpc_method", method.TrimStart('/')), new("grpc_status", StatusName(status)));

    /// <summary>validation, not_found, payload_too_large, unavailable, …; cancelled when the client left; internal for
    /// anything unexpected.</summary>
    public static string ReasonOf(Exception exception) => exception switch
    {
        _ when ApiErrors.From(exception) is { } error => SnakeCase(error.Kind.ToString()),
        OperationCanceledException => "cancelled",
        _ => "internal",
    };

    /// <summary>The canonical upper-case name gRPC documents use: NOT_FOUND, RESOURCE_EXHAUSTED.</summary>
    public static string StatusName(StatusCode status) => status == StatusCode.OK ? "OK" : SnakeCase(status.ToString()).ToUpperInvariant();

    private static string SnakeCase(string pascal)
    {
        var snake = new StringBuilder(pascal.Length + 4);
        foreach (var c in pascal)
        {
            if (char.IsUpper(c) && snake.Length > 0) snake.Append('_');
            snake.Append(char.ToLowerInvariant(c));
        }
        return snake.ToString();
    }
}
