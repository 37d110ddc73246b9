using Herald.Messages;
using Npgsql;
using NpgsqlTypes;

namespace Herald.ApiService.Attempts;

/// <summary>The one place an <see cref="AttemptFilter"/> becomes SQL over <c>delivery_attempts</c>, for the lists and the
/// statistics alike. Only the filter's present parts become conditions, so each shape of query gets a plan for its own
/// indexes (a prepared "$n IS NULL OR …" would get one generic plan for all of them).</summary>
internal static class AttemptQuery
{
    /// <summary>The Processor makes an attempt's id from the instant it records as attempted_at (<see cref="SortableId"/>).</summary>
    public const string IdPrefix = "atmpt";

    /// <summary>The conditions, joined by AND, with their values added to <paramref name="parameters"/> as the next
    /// positional parameters.</summary>
    /// <remarks>Times are compared to the millisecond, as id ranges: an id's first characters are its attempt's
    /// millisecond, so the (application_id | endpoint_id | message_id, id) indexes serve a time range as a range, and the
    /// planner estimates it once. (Checking attempted_at as well would be exact below the millisecond, but the planner
    /// would multiply the two ranges' selectivities as if independent, underestimate a day's attempts thirtyfold and
    /// choose plans for that: docs/queries/attempts-10m.md.)</remarks>
    /// <param name="afterInclusive">The window starts at After's millisecond (statistics' since) rather than after it.</param>
    public static string Where(NpgsqlParameterCollection parameters, string applicationId, AttemptFilter filter, bool afterInclusive = false)
    {
        var conditions = new List<string>();
        string Parameter(object value, NpgsqlDbType type)
        {
            parameters.Add(new() { Value = value, NpgsqlDbType = type });
            return "$" + parameters.Count;
        }

        if (filter.EndpointId is { } endpoint)
        {
            // The endpoint decides the application (an attempt's application is its endpoint's): checked once, rather than
            // on every row, it lets an endpoint's statistics read the covering index alone, and the planner estimate the
            // endpoint's share of rows without multiplying it by the application's.
            var endpointParameter = Parameter(endpoint, NpgsqlDbType.Text);
            conditions.Add($"endpoint_id = {endpointParameter}");
            conditions.Add($"EXISTS (SELECT 1 FROM endpoints WHERE application_id = {Parameter(applicationId, NpgsqlDbType.Text)} AND id = {endpointParameter})");
        }
        else
        {
            conditions.Add($"application_id = {Parameter(applicationId, NpgsqlDbType.Text)}");
        }
        if (filter.MessageId is { } message) conditions.Add($"message_id = {Parameter(message, NpgsqlDbType.Text)}");
        if (filter.Status is { } status) conditions.Add($"status = {Parameter(status, NpgsqlDbType.Text)}");
        if (filter.StatusClass is { } statusClass)
        {
            conditions.Add(statusClass switch
            {
                "none" => "http_status IS NULL",
                // Constants, not parameters: the planner sees the range (and the class is one of five validated values).
                _ => $"http_status BETWEEN {statusClass[0]}00 AND {statusClass[0]}99",
            });
        }
        if (filter.After is { } after)
            conditions.Add($"id >= {Parameter(LowestId(afterInclusive || after > DateTimeOffset.MaxValue.AddMilliseconds(-1) ? after : after.AddMilliseconds(1)), NpgsqlDbType.Text)}");
        if (filter.Before is { } before)
            conditions.Add($"id < {Parameter(LowestId(before), NpgsqlDbType.Text)}");
        return string.Join(" AND ", conditions);
    }

    /// <summary>Put first in a batch: its other statements are planned for their own values each time. Npgsql prepares
    /// a statement after its second use, and after five runs PostgreSQL may switch a prepared statement to one generic
    /// plan, costed for an average application or endpoint and a default-sized time range: measured at 10 M attempts,
    /// a small application's newest page then walks the primary key through everyone's attempts (28 ms instead of 1),
    /// and the big endpoint's failures of a day take a bitmap scan of the whole day (850 ms instead of 50). Local to
    /// the batch's transaction: the pooled connection keeps its setting.</summary>
    public static NpgsqlBatchCommand CustomPlans() => new("SELECT set_config('plan_cache_mode', 'force_custom_plan', true)");

    /// <summary>The smallest attempt id of <paramref name="time"/>'s millisecond; ids hold no time before 1970.</summary>
    private static string LowestId(DateTimeOffset time) => SortableId.Lowest(IdPrefix, time < DateTimeOffset.UnixEpoch ? DateTimeOffset.UnixEpoch : time);
}
