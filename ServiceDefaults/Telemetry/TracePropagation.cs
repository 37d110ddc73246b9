using System.Diagnostics;
using System.Text;
using Confluent.Kafka;
using OpenTelemetry.Context.Propagation;

namespace Herald.ServiceDefaults.Telemetry;

/// <summary>
/// Carries a trace across Kafka as W3C <c>traceparent</c>/<c>tracestate</c> record headers, and across PostgreSQL as
/// a stored <c>traceparent</c>, so one message is one trace from the API request to every webhook attempt.
/// </summary>
public static class TracePropagation
{
    // Trace context only, not the SDK's default composite: baggage a client sends the API must not travel through
    // Kafka into every process, nor on to its webhook endpoints.
    private static readonly TraceContextPropagator Propagator = new();

    public static void Inject(Headers headers, ActivityContext context)
    {
        if (context == default) return;
        Propagator.Inject(new PropagationContext(context, default), headers, static (carrier, name, value) =>
        {
            carrier.Remove(name);
            carrier.Add(name, Encoding.UTF8.GetBytes(value));
        });
    }

    /// <summary>The context the producer injected, or default when the record carries none.</summary>
    public static ActivityContext Extract(Headers? headers)
    {
        if (headers is null) return default;
        return Propagator.Extract(default, headers, static (carrier, name) =>
            carrier.TryGetLastBytes(name, out var value) ? [Encoding.UTF8.GetString(value)] : []).ActivityContext;
    }

    /// <summary>The <c>traceparent</c> text of a context (null for none), for storing beside a row.</summary>
    public static string? Format(ActivityContext context) => context == default
        ? null
        : $"00-{context.TraceId.ToHexString()}-{context.SpanId.ToHexString()}-{((context.TraceFlags & ActivityTraceFlags.Recorded) != 0 ? "01" : "00")}";

    /// <summary>A stored <c>traceparent</c> back as a remote parent; default when absent or malformed.</summary>
    public static ActivityContext Parse(string? traceParent) =>
        ActivityContext.TryParse(traceParent, null, isRemote: true, out var context) ? context : default;

    /// <summary>Starts an activity without making it <see cref="Activity.Current"/>, for work that runs beside the
    /// current flow (one span per message of a batch). Stop it with <see cref="StopDetached"/>.</summary>
    public static Activity? StartDetached(this ActivitySource source, string name, ActivityKind kind, ActivityContext parent)
    {
        var current = Activity.Current;
        var activity = source.StartActivity(name, kind, parent);
        Activity.Current = current;
        return activity;
    }

    /// <summary>Stops an activity started with <see cref="StartDetached"/>, leaving <see cref="Activity.Current"/> as it was.</summary>
    public static void StopDetached(this Activity? activity)
    {
        if (activity is null) return;
        var current = Activity.Current;
        activity.Stop();
        Activity.Current = current;
    }
}
