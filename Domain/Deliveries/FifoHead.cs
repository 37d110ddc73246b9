namespace Herald.Deliveries;

/// <summary>
/// SQL conditions on a <c>deliveries</c> row (by its alias) about the head of a FIFO endpoint's line, written once for
/// the API, the Processor's line mover and its gauges. The first is the predicate of the unique index
/// <c>deliveries_fifo_head</c>, word for word, so the planner can use it.
/// </summary>
public static class FifoHead
{
    /// <summary>The row is its line's head: out of line and not finished (at most one per endpoint).</summary>
    public static string Is(string delivery) =>
        $"{delivery}.queue_position IS NOT NULL AND {delivery}.status IN ('{DeliveryStatus.Pending}', '{DeliveryStatus.Paused}')";

    /// <summary>The row is a head holding its line up: it has failed at least once, or its endpoint is disabled.</summary>
    public static string Blocks(string delivery) =>
        $"{delivery}.queue_position IS NOT NULL AND ({delivery}.status = '{DeliveryStatus.Paused}' OR ({delivery}.status = '{DeliveryStatus.Pending}' AND {delivery}.attempts > 0))";
}
