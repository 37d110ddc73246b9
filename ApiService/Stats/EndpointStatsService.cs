using Herald.ApiService.Attempts;
using Herald.ApiService.Auth;
using Herald.ApiService.Problems;
using Herald.Database;
using Herald.Deliveries;
using Npgsql;

namespace Herald.ApiService.Stats;

/// <summary>An endpoint's attempts over a window [Since, Until).</summary>
/// <param name="SuccessRate">Succeeded ÷ attempts, 0 to 1; null without attempts.</param>
/// <param name="LatencyMs">Continuous percentiles of latency_ms; null without attempts.</param>
/// <param name="StatusClasses">Attempts by HTTP status class: 2xx, 3xx, 4xx, 5xx, and none (no response); every key is present.</param>
/// <param name="TopErrors">The most frequent failures (the error, or "HTTP nnn" for a failing response), most frequent first, at most 5.</param>
public sealed record EndpointStats(
    string EndpointId,
    DateTimeOffset Since,
    DateTimeOffset Until,
    long Attempts,
    long Succeeded,
    long Failed,
    double? SuccessRate,
    LatencyPercentiles? LatencyMs,
    IReadOnlyDictionary<string, long> StatusClasses,
    IReadOnlyList<ErrorCount> TopErrors);

public sealed record LatencyPercentiles(double P50, double P95, double P99);

public sealed record ErrorCount(string Error, long Count);

/// <summary>Statistics of an endpoint's delivery attempts, computed by PostgreSQL from <c>delivery_attempts</c> in one
/// round trip (the endpoint's existence, the aggregates, the top errors), over a bounded window so that the work is
/// bounded too.</summary>
public sealed class EndpointStatsService(NpgsqlDataSource dataSource, TimeProvider time)
{
    public static readonly TimeSpan DefaultWindow = TimeSpan.FromHours(24);
    public static readonly TimeSpan MaxWindow = TimeSpan.FromDays(31);
    public const int TopErrorCount = 5;

    /// <summary>The window asked for: until defaults to now, since to 24 h before until; at most 31 days.</summary>
    public static (DateTimeOffset Since, DateTimeOffset Until) Window(DateTimeOffset? since, DateTimeOffset? until, DateTimeOffset now)
    {
        var end = until ?? now;
        if (since is null && end < DateTimeOffset.MinValue + DefaultWindow) throw ApiError.Invalid("until", "Too early: no window of 24 hours ends then.");
        var start = since ?? end - DefaultWindow;
        if (end <= start) throw ApiError.Invalid(until is null ? "since" : "until", "The window must end after it starts ('until' later than 'since').");
        if (end - start > MaxWindow) throw ApiError.Invalid("since", $"The window is at most {MaxWindow.TotalDays:0} days.");
        return (start, end);
    }

    public async Task<EndpointStats> GetAsync(Caller caller, string applicationId, string endpointId, DateTimeOffset? since, DateTimeOffset? until,
        CancellationToken cancellationToken)
    {
        caller.RequireAccessTo(applicationId);
        var (start, end) = Window(since, until, DatabaseTime.Now(time));
        var window = new AttemptFilter(EndpointId: endpointId, After: start, Before: end);

        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var batch = new NpgsqlBatch(connection);
        batch.BatchCommands.Add(AttemptQuery.CustomPlans());
        var exists = new NpgsqlBatchCommand("SELECT EXISTS (SELECT 1 FROM endpoints WHERE application_id = $1 AND id = $2)");
        exists.Parameters.Add(new() { Value = applicationId });
        exists.Parameters.Add(new() { Value = endpointId });
        batch.BatchCommands.Add(exists);

        var totals = new NpgsqlBatchCommand();
        totals.CommandText = $"""
            SELECT count(*),
                   count(*) FILTER (WHERE status = '{AttemptStatus.Succeeded}'),
                   count(*) FILTER (WHERE status = '{AttemptStatus.Failed}'),
                   percentile_cont(ARRAY[0.5, 0.95, 0.99]) WITHIN GROUP (ORDER BY latency_ms),
                   count(*) FILTER (WHERE http_status BETWEEN 200 AND 299),
                   count(*) FILTER (WHERE http_status BETWEEN 300 AND 399),
                   count(*) FILTER (WHERE http_status BETWEEN 400 AND 499),
                   count(*) FILTER (WHERE http_status BETWEEN 500 AND 599),
                   count(*) FILTER (WHERE http_status IS NULL)
            FROM delivery_attempts
            WHERE {AttemptQuery.Where(totals.Parameters, applicationId, window, afterInclusive: true)}
            """;
        batch.BatchCommands.Add(totals);

        var errors = new NpgsqlBatchCommand();
        // The attempt's own error (timeout, dns, …) or, for a response that failed it, its status.
        errors.CommandText = $"""
            SELECT COALESCE(error, 'HTTP ' || http_status, 'unknown') AS failure, count(*)
            FROM delivery_attempts
            WHERE {AttemptQuery.Where(errors.Parameters, applicationId, window with { Status = AttemptStatus.Failed }, afterInclusive: true)}
            GROUP BY failure ORDER BY count(*) DESC, failure LIMIT {TopErrorCount}
            """;
        batch.BatchCommands.Add(errors);

        await using var reader = await batch.ExecuteReaderAsync(cancellationToken);
        await reader.NextResultAsync(cancellationToken);
        await reader.ReadAsync(cancellationToken);
        if (!reader.GetBoolean(0)) throw ApiError.NotFound("endpoint");

        await reader.NextResultAsync(cancellationToken);
        await reader.ReadAsync(cancellationToken);
        var attempts = reader.GetInt64(0);
        var succeeded = reader.GetInt64(1);
        var percentiles = reader.IsDBNull(3) ? null : reader.GetFieldValue<double[]>(3);
        var classes = new Dictionary<string, long>
        {
            ["2xx"] = reader.GetInt64(4),
            ["3xx"] = reader.GetInt64(5),
            ["4xx"] = reader.GetInt64(6),
            ["5xx"] = reader.GetInt64(7),
            ["none"] = reader.GetInt64(8),
        };
        var stats = new EndpointStats(endpointId, start, end, attempts, succeeded, reader.GetInt64(2),
            attempts == 0 ? null : (double)succeeded / attempts,
            percentiles is null ? null : new LatencyPercentiles(percentiles[0], percentiles[1], percentiles[2]),
            classes, []);

        await reader.NextResultAsync(cancellationToken);
        var top = new List<ErrorCount>();
        while (await reader.ReadAsync(cancellationToken)) top.Add(new ErrorCount(reader.GetString(0), reader.GetInt64(1)));
        return stats with { TopErrors = top };
    }
}
