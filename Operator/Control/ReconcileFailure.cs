namespace Herald.Operator.Control;

/// <summary>A reconcile that cannot finish now, with the <c>Ready=False</c> reason and message it reports; retried with back-off.</summary>
public sealed class ReconcileFailure(string reason, string message, Exception? inner = null) : Exception(message, inner)
{
    public string Reason { get; } = reason;
}

/// <summary>What one reconcile did: the Herald object's id, and whether it had drifted from the resource and was put back.</summary>
public sealed record ReconcileOutcome(string HeraldId, bool DriftCorrected);

/// <summary>Desired (the resource) → actual (Herald), for one kind.</summary>
public interface IReconciler<in T>
{
    /// <summary>Makes Herald match the resource; idempotent, and a retry of a create that may have happened repeats its key.</summary>
    Task<ReconcileOutcome> ReconcileAsync(T resource, CancellationToken cancellationToken);

    /// <summary>Removes the resource's object from Herald (gone already counts as done).</summary>
    Task DeleteAsync(T resource, CancellationToken cancellationToken);
}
