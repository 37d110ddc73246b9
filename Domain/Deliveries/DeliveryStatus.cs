namespace Herald.Deliveries;

/// <summary>
/// A delivery's state: the <c>deliveries.status</c> column, the API's <c>status</c> of a delivery and the
/// <c>deliveryStatus</c> of an outcome. SQL names them as literals built from these constants (the partial indexes on
/// <c>status = 'pending'</c> need a literal, not a parameter).
/// </summary>
public static class DeliveryStatus
{
    /// <summary>An attempt is due (now or at <c>next_attempt_at</c>), or being made.</summary>
    public const string Pending = "pending";

    /// <summary>An attempt got a 2xx.</summary>
    public const string Succeeded = "succeeded";

    /// <summary>Every attempt of the schedule failed (dead-lettered): resend or recover it.</summary>
    public const string Failed = "failed";

    /// <summary>Its endpoint is disabled; re-enabling the endpoint makes it pending again.</summary>
    public const string Paused = "paused";

    /// <summary>Waiting in a FIFO endpoint's line behind the delivery being attempted (its <c>blockedBy</c>).</summary>
    public const string Queued = "queued";

    public static IReadOnlyList<string> All { get; } = [Pending, Succeeded, Failed, Paused, Queued];
}

/// <summary>One attempt's outcome: the <c>delivery_attempts.status</c> column, and an outcome's <c>status</c>.</summary>
public static class AttemptStatus
{
    public const string Succeeded = "succeeded";
    public const string Failed = "failed";

    public static string Of(bool succeeded) => succeeded ? Succeeded : Failed;
}
