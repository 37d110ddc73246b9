using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace Herald.Operator.Telemetry;

/// <summary>The operator's metrics (meter <c>Herald.Operator</c>, exported by ServiceDefaults as every <c>Herald.*</c> meter).</summary>
public sealed class OperatorMetrics : IDisposable
{
    public const string MeterName = "Herald.Operator";
    private readonly Meter _meter = new(MeterName);
    private readonly Counter<long> _reconciles;
    private readonly Histogram<double> _duration;
    private int _leading;

    public OperatorMetrics(Func<IEnumerable<(string Kind, int Depth)>> queueDepths)
    {
        _reconciles = _meter.CreateCounter<long>("herald.operator.reconciles", description: "Reconciles by kind and result (success, error, conflict).");
        _duration = _meter.CreateHistogram<double>("herald.operator.reconcile.duration", unit: "s", description: "How long one reconcile took.");
        _meter.CreateObservableGauge("herald.operator.queue.depth",
            () => queueDepths().Select(q => new Measurement<int>(q.Depth, new KeyValuePair<string, object?>("kind", q.Kind))),
            description: "Resources waiting to be reconciled.");
        _meter.CreateObservableGauge("herald.operator.leader", () => Volatile.Read(ref _leading),
            description: "1 while this replica holds the Lease and runs the control loops.");
    }

    public bool IsLeader => Volatile.Read(ref _leading) == 1;

    public void Leading(bool leading) => Volatile.Write(ref _leading, leading ? 1 : 0);

    public void Reconciled(string kind, string result, TimeSpan took)
    {
        var tags = new TagList { { "kind", kind }, { "result", result } };
        _reconciles.Add(1, tags);
        _duration.Record(took.TotalSeconds, new KeyValuePair<string, object?>("kind", kind));
    }

    public void Dispose() => _meter.Dispose();
}
