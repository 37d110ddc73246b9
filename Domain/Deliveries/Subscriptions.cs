namespace Herald.Deliveries;

/// <summary>
/// Which endpoints a message goes to, as one SQL condition over an endpoint <c>e</c> and a stored message <c>m</c>
/// (columns of <c>messages</c>): its event type among the endpoint's, one of its channels among the endpoint's, and its
/// payload matching the endpoint's content filter — each only when the endpoint sets one. Fan-out and the API's FIFO
/// lines both select endpoints with it, so the two can never disagree.
/// </summary>
public static class Subscriptions
{
    public const string Match = """
        (e.event_types IS NULL OR m.event_type = ANY (e.event_types))
        AND (e.channels IS NULL OR e.channels && m.channels)
        AND (e.filter_path IS NULL OR herald_payload_matches(m.payload, e.filter_path))
        """;
}
