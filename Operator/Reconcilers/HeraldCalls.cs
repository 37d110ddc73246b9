using System.Net;
using Herald.Client;
using Herald.Operator.Control;
using Herald.Operator.Resources;
using Microsoft.Kiota.Abstractions;

namespace Herald.Operator.Reconcilers;

/// <summary>What the reconcilers share about Herald's API: 404 as absence, and the key a create is retried with.</summary>
public static class HeraldCalls
{
    public static async Task<TResult?> FindAsync<TResult>(Func<Task<TResult?>> get) where TResult : class
    {
        try { return await get(); }
        catch (ApiException e) when (e.ResponseStatusCode == (int)HttpStatusCode.NotFound) { return null; }
    }

    public static async Task DeleteAsync(Func<Task> delete)
    {
        try { await delete(); }
        catch (ApiException e) when (e.ResponseStatusCode == (int)HttpStatusCode.NotFound) { }
    }

    /// <summary>
    /// One key per (resource, generation, object it replaces): a create retried after a crash, a lost response or a
    /// failed status write gets the object the first attempt made, never a second one; a spec change, or the Herald
    /// object having been deleted behind the operator's back, is a new creation.
    /// </summary>
    public static Action<RequestConfiguration<DefaultQueryParameters>> CreateKey(IHeraldResource resource) =>
        Idempotency.Key($"herald-operator:{resource.Metadata.Uid}:{resource.Metadata.Generation}:{resource.Status?.HeraldId ?? "new"}");

    /// <summary>Whether Herald already holds this generation: a difference now is drift (a change made in Herald), not a new spec.</summary>
    public static bool WasReady(IHeraldResource resource) =>
        resource.Status is { } status && status.ObservedGeneration == resource.Metadata.Generation;

    public static bool SameSet(IEnumerable<string>? a, IEnumerable<string>? b) =>
        (a ?? []).ToHashSet(StringComparer.Ordinal).SetEquals(b ?? []);

    public static ReconcileFailure Rejected(ApiException e) =>
        new("HeraldRejected", $"Herald's API refused the resource ({e.ResponseStatusCode}): {e.Message}", e);
}
