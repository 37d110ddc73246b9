using System.Diagnostics.Metrics;
using OpenTelemetry.Metrics;

namespace Herald.ServiceDefaults.Telemetry;

/// <summary>
/// Adjusts library instruments so the scrape stays small, bounded and valid for Prometheus (<c>promtool check
/// metrics</c>): per-host labels dropped, latency buckets that resolve 1 ms … 30 s, and gauges renamed off the
/// <c>_count</c> suffix that Prometheus reserves for histograms. Herald's own instruments are left alone: they are
/// named for Prometheus and carry their buckets as advice.
/// </summary>
public static class MetricViews
{
    // One series per customer host (webhook endpoints) would grow without bound: keep only bounded HttpClient and DNS labels.
    private static readonly string[] BoundedNetworkTags =
        ["http.request.method", "http.response.status_code", "error.type", "network.protocol.version", "url.scheme", "http.connection.state"];

    private static readonly Dictionary<string, string> Renamed = new(StringComparer.Ordinal)
    {
        ["db.client.connection.count"] = "db.client.connection.usage",
        ["dotnet.assembly.count"] = "dotnet.assembly.loaded",
        ["dotnet.process.cpu.count"] = "dotnet.process.cpu.available",
        ["dotnet.timer.count"] = "dotnet.timer.active",
    };

    public static MeterProviderBuilder AddHeraldViews(this MeterProviderBuilder metrics) =>
        // A single view: with several, an instrument matching two of them would be exported twice.
        metrics.AddView(Configure);

    private static MetricStreamConfiguration? Configure(Instrument instrument)
    {
        if (instrument.Meter.Name.StartsWith("Herald.", StringComparison.Ordinal)) return null;

        var histogram = IsHistogram(instrument);
        var bounded = instrument.Meter.Name is "System.Net.Http" or "System.Net.NameResolution";
        var seconds = histogram && instrument.Unit == "s";
        string? name = null;
        if (Renamed.TryGetValue(instrument.Name, out var renamed)) name = renamed;
        else if (!histogram && !IsMonotonic(instrument) && instrument.Name.EndsWith(".count", StringComparison.Ordinal))
            name = instrument.Name[..^".count".Length] + ".current";

        if (!bounded && !seconds && name is null) return null;
        MetricStreamConfiguration configuration = seconds
            ? new ExplicitBucketHistogramConfiguration { Boundaries = [.. LatencyBuckets.Seconds] }
            : new MetricStreamConfiguration();
        if (bounded) configuration.TagKeys = BoundedNetworkTags;
        if (name is not null) configuration.Name = name;
        return configuration;
    }

    private static bool IsHistogram(Instrument instrument) =>
        instrument.GetType() is { IsGenericType: true } type && type.GetGenericTypeDefinition() == typeof(Histogram<>);

    private static bool IsMonotonic(Instrument instrument) =>
        instrument.GetType() is { IsGenericType: true } type
        && (type.GetGenericTypeDefinition() == typeof(Counter<>) || type.GetGenericTypeDefinition() == typeof(ObservableCounter<>));
}
