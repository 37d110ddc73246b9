using Herald.Client.Generated;
using Herald.Client.Generated.Api.V1.Apps.Item.Endpoints;
using Herald.Client.Generated.Models;
using Herald.Operator.Control;
using Herald.Operator.Resources;
using Microsoft.Kiota.Abstractions;
using Microsoft.Kiota.Abstractions.Serialization;

namespace Herald.Operator.Reconcilers;

/// <summary><see cref="WebhookEndpoint"/> → an endpoint of the referenced application.</summary>
public sealed class EndpointReconciler(HeraldApiClient herald, ApplicationRefs applications, SigningSecrets secrets) : IReconciler<WebhookEndpoint>
{
    // A create refused with a Location whose endpoint is gone again is a new creation; this bounds that chain.
    private const int MaxCreateHops = 5;

    public async Task<ReconcileOutcome> ReconcileAsync(WebhookEndpoint resource, CancellationToken cancellationToken)
    {
        var appId = await applications.ResolveAsync(resource.Spec.ApplicationRef, cancellationToken);
        var endpoints = herald.Api.V1.Apps[appId].Endpoints;
        var spec = resource.Spec;
        var headers = await HeadersAsync(spec, cancellationToken);
        var actual = resource.Status?.HeraldId is { } id
            ? await HeraldCalls.FindAsync(() => endpoints[id].GetAsync(cancellationToken: cancellationToken))
            : null;
        var fromSecret = spec.SigningSecret is { } reference ? await secrets.ReadAsync(reference, cancellationToken) : null;
        try
        {
            // The secret goes with the create only: an update never carries one (Herald rotates instead).
            actual ??= await CreateAsync(resource, appId, endpoints, Input(spec, headers, fromSecret), cancellationToken);
            ReconcileOutcome outcome;
            if (actual is { Disabled: true, DisabledReason: { } why } && !spec.Disabled && HeraldCalls.WasReady(resource))
            {
                // Herald disabled it itself (it failed for days, or answered 410 Gone): re-enabling it at every resync
                // would fight Herald's judgement. A new generation of the resource (any spec change) enables it again.
                throw new ReconcileFailure("DisabledByHerald", $"Herald disabled the endpoint: {why} Change the resource's spec to enable it again.");
            }
            var desired = Input(spec, headers, secret: null);
            if (Matches(desired, spec, actual)) outcome = new(actual.Id!, false);
            else
            {
                await endpoints[actual.Id].PutAsync(desired, cancellationToken: cancellationToken);
                outcome = new(actual.Id!, HeraldCalls.WasReady(resource));
            }
            if (spec.SigningSecret is { } secretRef) await SyncSecretAsync(resource, secretRef, fromSecret, outcome.HeraldId, endpoints, cancellationToken);
            return outcome;
        }
        catch (ApiException e) when (e.ResponseStatusCode is 400 or 422)
        {
            throw HeraldCalls.Rejected(e);
        }
    }

    /// <summary>
    /// Creates the endpoint, or takes over the one an earlier attempt of this create made: the key is this resource's
    /// (uid, generation), so what Herald names in a refusal of it is this resource's endpoint whose id was never
    /// recorded (the status write failed, or the response was lost). Herald names it when it will not replay the
    /// response (it held header values) or when the body changed since (a header Secret changed).
    /// </summary>
    private static async Task<EndpointResponse> CreateAsync(WebhookEndpoint resource, string appId, EndpointsRequestBuilder endpoints,
        EndpointInput input, CancellationToken cancellationToken)
    {
        var replaces = resource.Status?.HeraldId;
        for (var hop = 0; ; hop++)
        {
            try
            {
                return (await endpoints.PostAsync(input, HeraldCalls.CreateKey(resource, replaces), cancellationToken))!;
            }
            catch (ApiException e) when (hop < MaxCreateHops && HeraldCalls.CreatedEarlier(e, $"/api/v1/apps/{appId}/endpoints/") is { } earlier)
            {
                if (await HeraldCalls.FindAsync(() => endpoints[earlier].GetAsync(cancellationToken: cancellationToken)) is { } existing)
                    return existing;
                // Deleted since: a new creation, under a key of its own as when a recorded endpoint is gone.
                replaces = earlier;
            }
        }
    }

    /// <summary>
    /// The headers as a Pod's environment is built: each <c>headersFrom</c> Secret's keys in order (a later one wins a
    /// name), then <c>headers</c> over them. Names compare as HTTP does, without case. Sorted, so a repeated create
    /// sends the very same body (its idempotency key requires it).
    /// </summary>
    private async Task<SortedDictionary<string, string>> HeadersAsync(WebhookEndpointSpec spec, CancellationToken cancellationToken)
    {
        var headers = new SortedDictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        void Set(string name, string value)
        {
            headers.Remove(name); // the winner's spelling of the name, not the first one's
            headers[name] = value;
        }
        foreach (var source in spec.HeadersFrom ?? [])
        {
            var data = await secrets.ReadAllAsync(source.SecretRef.Name, cancellationToken)
                       ?? throw new ReconcileFailure("SecretNotFound", $"The Secret '{source.SecretRef.Name}' (headersFrom) does not exist.");
            foreach (var (name, value) in data) Set(name, value);
        }
        foreach (var (name, value) in spec.Headers ?? []) Set(name, value);
        return headers;
    }

    private static EndpointInput Input(WebhookEndpointSpec spec, IReadOnlyDictionary<string, string> headers, string? secret) => new()
    {
        Url = spec.Url, Description = spec.Description ?? "", EventTypes = spec.EventTypes, Channels = spec.Channels,
        Disabled = spec.Disabled, Ordering = spec.Ordering ?? "parallel", RateLimit = spec.RateLimit, Secret = secret,
        Headers = headers.Count == 0 ? null : new EndpointInput_headers { AdditionalData = headers.ToDictionary(h => h.Key, h => (object)h.Value) },
        Filter = UntypedJson.From(spec.Filter),
        RetryPolicy = spec.RetryPolicy is { } policy
            ? new RetryPolicy { Delays = policy.Delays, MaxAttempts = policy.MaxAttempts, Timeout = policy.Timeout }
            : null,
    };

    /// <summary>The Secret and Herald agree on the current signing secret: the Secret's wins when it has one.</summary>
    private async Task SyncSecretAsync(WebhookEndpoint resource, SecretKeyRef reference, string? fromSecret, string endpointId,
        EndpointsRequestBuilder endpoints, CancellationToken cancellationToken)
    {
        var current = (await endpoints[endpointId].Secret.GetAsync(cancellationToken: cancellationToken))!.Key!;
        if (fromSecret is null) await secrets.WriteAsync(resource, reference, current, cancellationToken);
        else if (fromSecret != current)
            await endpoints[endpointId].Secret.Rotate.PostAsync(new RotateSecretInput { Key = fromSecret },
                Herald.Client.Idempotency.Key($"herald-operator:{resource.Metadata.Uid}:rotate:{Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(fromSecret)))[..16]}"),
                cancellationToken);
    }

    /// <summary>
    /// Herald returns header values as they are (unsealed for the admin key the operator uses), so a changed Secret or
    /// a header edited in Herald shows here by value, with nothing to remember in the status.
    /// </summary>
    private static bool Matches(EndpointInput desired, WebhookEndpointSpec spec, EndpointResponse actual) =>
        desired.Url == actual.Url && desired.Description == (actual.Description ?? "") &&
        HeraldCalls.SameSet(desired.EventTypes, actual.EventTypes) && HeraldCalls.SameSet(desired.Channels, actual.Channels) &&
        desired.Disabled == actual.Disabled && desired.Ordering == actual.Ordering && desired.RateLimit == actual.RateLimit &&
        SameHeaders(desired.Headers?.AdditionalData, actual.Headers?.AdditionalData) &&
        UntypedJson.Same(spec.Filter, actual.Filter) && SamePolicy(desired.RetryPolicy, actual.RetryPolicy);

    private static bool SameHeaders(IDictionary<string, object>? desired, IDictionary<string, object>? actual)
    {
        static Dictionary<string, string?> Text(IDictionary<string, object>? headers) =>
            (headers ?? new Dictionary<string, object>()).ToDictionary(h => h.Key, h => h.Value switch
            {
                string s => s,
                UntypedString u => u.GetValue(),
                var other => other?.ToString(),
            }, StringComparer.Ordinal);
        var (a, b) = (Text(desired), Text(actual));
        return a.Count == b.Count && a.All(h => b.TryGetValue(h.Key, out var value) && value == h.Value);
    }

    /// <summary>Herald keeps no empty policy (it inherits), and rewrites durations its own way.</summary>
    private static bool SamePolicy(RetryPolicy? desired, RetryPolicy? actual)
    {
        static bool Empty(RetryPolicy? p) => p is null || p.Delays is null && p.MaxAttempts is null && p.Timeout is null;
        if (Empty(desired) || Empty(actual)) return Empty(desired) && Empty(actual);
        return desired!.MaxAttempts == actual!.MaxAttempts && SameDuration(desired.Timeout, actual.Timeout) &&
               (desired.Delays is null ? actual.Delays is null
                   : actual.Delays is not null && desired.Delays.Count == actual.Delays.Count && desired.Delays.Zip(actual.Delays).All(d => SameDuration(d.First, d.Second)));
    }

    /// <summary>Herald stores durations rewritten its own way (<c>60s</c> comes back as <c>1m</c>): the same by value when
    /// both parse as Herald parses them, else by text (Herald would have refused either).</summary>
    private static bool SameDuration(string? a, string? b) =>
        Herald.Deliveries.RetryPolicy.TryParseDuration(a, out var x) && Herald.Deliveries.RetryPolicy.TryParseDuration(b, out var y) ? x == y : a == b;

    public async Task DeleteAsync(WebhookEndpoint resource, CancellationToken cancellationToken)
    {
        if (resource.Status?.HeraldId is not { } id) return;
        string appId;
        try { appId = await applications.ResolveAsync(resource.Spec.ApplicationRef, cancellationToken); }
        catch (ReconcileFailure) { return; } // the application is gone, and its endpoints with it
        await HeraldCalls.DeleteAsync(() => herald.Api.V1.Apps[appId].Endpoints[id].DeleteAsync(cancellationToken: cancellationToken));
    }
}
