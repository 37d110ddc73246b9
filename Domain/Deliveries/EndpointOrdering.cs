namespace Herald.Deliveries;

/// <summary>An endpoint's <c>ordering</c>: whether its messages may be in flight together, or go one at a time in the
/// order they were accepted.</summary>
public static class EndpointOrdering
{
    /// <summary>Deliveries go concurrently (up to the endpoint's concurrency); a retry does not hold back the others.</summary>
    public const string Parallel = "parallel";

    /// <summary>One delivery at a time, in accept order: the next goes only after the previous one succeeded or was
    /// dead-lettered.</summary>
    public const string Fifo = "fifo";

    public static IReadOnlyList<string> All { get; } = [Parallel, Fifo];
}
