using System.Net;
using Herald.Client;
using Herald.Operator.Control;
using Herald.Operator.Resources;
using Herald.Client.Generated.Models;
using Microsoft.Kiota.Abstractions;
using Microsoft.Kiota.Abstractions.Serialization;

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
        CreateKey(resource, resource.Status?.HeraldId);

    /// <param name="replaces">The Herald object the create replaces (gone from Herald); null: the first.</param>
    public static Action<RequestConfiguration<DefaultQueryParameters>> CreateKey(IHeraldResource resource, string? replaces) =>
        Idempotency.Key($"herald-operator:{resource.Metadata.Uid}:{resource.Metadata.Generation}:{replaces ?? "new"}");

    /// <summary>
    /// The id of what an earlier request under the same key created, when Herald refuses the repeat and names it in
    /// <c>Location</c>: 409 when its response held secrets and so is not replayed (an endpoint with headers), 422 when
    /// the request differs from the first (a header Secret changed in between). Only an object under
    /// <paramref name="collection"/> (e.g. <c>/api/v1/apps/app_1/endpoints/</c>) counts.
    /// </summary>
    public static string? CreatedEarlier(ApiException e, string collection)
    {
        if (e.ResponseStatusCode is not (409 or 422)) return null;
        var location = e.ResponseHeaders.FirstOrDefault(h => h.Key.Equals("Location", StringComparison.OrdinalIgnoreCase)).Value?.FirstOrDefault();
        if (location is null || !location.StartsWith(collection, StringComparison.Ordinal)) return null;
        var id = location[collection.Length..];
        return id.Length > 0 && !id.Contains('/') ? Uri.UnescapeDataString(id) : null;
    }

    /// <summary>Whether Herald already holds this generation: a difference now is drift (a change made in Herald), not a new spec.</summary>
    public static bool WasReady(IHeraldResource resource) =>
        resource.Status is { } status && status.ObservedGeneration == resource.Metadata.Generation;

    public static bool SameSet(IEnumerable<string>? a, IEnumerable<string>? b) =>
        (a ?? []).ToHashSet(StringComparer.Ordinal).SetEquals(b ?? []);

    public static ReconcileFailure Rejected(ApiException e) =>
        new("HeraldRejected", $"Herald's API refused the resource ({e.ResponseStatusCode}): {Describe(e)}", e);

    /// <summary>Herald's own words for an error: its problem's title and each invalid field's messages.</summary>
    public static string Describe(ApiException e)
    {
        if (e is not ProblemDetails problem) return e.Message;
        var fields = (problem.Errors?.AdditionalData ?? new Dictionary<string, object>())
            .SelectMany(field => Messages(field.Value).Select(message => $"{field.Key}: {message}"));
        return string.Join(" ", new[] { problem.Title ?? e.Message }.Concat(fields));
    }

    private static IEnumerable<string> Messages(object value) => value switch
    {
        UntypedArray array => array.GetValue().OfType<UntypedString>().Select(s => s.GetValue() ?? ""),
        IEnumerable<object> list => list.Select(item => item is UntypedString s ? s.GetValue() ?? "" : item.ToString() ?? ""),
        _ => [value.ToString() ?? ""],
    };
}
