using Herald.Client.Generated;
using Herald.Client.Generated.Models;
using Herald.Operator.Control;
using Herald.Operator.Resources;
using Microsoft.Kiota.Abstractions;

namespace Herald.Operator.Reconcilers;

/// <summary><see cref="WebhookEndpoint"/> → an endpoint of the referenced application.</summary>
public sealed class EndpointReconciler(HeraldApiClient herald, ApplicationRefs applications, SigningSecrets secrets) : IReconciler<WebhookEndpoint>
{
    public async Task<ReconcileOutcome> ReconcileAsync(WebhookEndpoint resource, CancellationToken cancellationToken)
    {
        var appId = await applications.ResolveAsync(resource.Spec.ApplicationRef, cancellationToken);
        var endpoints = herald.Api.V1.Apps[appId].Endpoints;
        var spec = resource.Spec;
        var desired = new EndpointInput
        {
            Url = spec.Url, Description = spec.Description ?? "", EventTypes = spec.EventTypes, Channels = spec.Channels,
            Disabled = spec.Disabled, Ordering = spec.Ordering ?? "parallel", RateLimit = spec.RateLimit,
        };
        var actual = resource.Status?.HeraldId is { } id
            ? await HeraldCalls.FindAsync(() => endpoints[id].GetAsync(cancellationToken: cancellationToken))
            : null;
        var fromSecret = spec.SigningSecret is { } reference ? await secrets.ReadAsync(reference, cancellationToken) : null;
        try
        {
            ReconcileOutcome outcome;
            if (actual is null)
            {
                // The secret goes with the create only: an update never carries one (Herald rotates instead).
                var created = await endpoints.PostAsync(new EndpointInput
                {
                    Url = desired.Url, Description = desired.Description, EventTypes = desired.EventTypes, Channels = desired.Channels,
                    Disabled = desired.Disabled, Ordering = desired.Ordering, RateLimit = desired.RateLimit, Secret = fromSecret,
                }, HeraldCalls.CreateKey(resource), cancellationToken);
                outcome = new(created!.Id!, false);
            }
            else if (actual is { Disabled: true, DisabledReason: { } why } && !spec.Disabled && HeraldCalls.WasReady(resource))
            {
                // Herald disabled it itself (it failed for days, or answered 410 Gone): re-enabling it at every resync
                // would fight Herald's judgement. A new generation of the resource (any spec change) enables it again.
                throw new ReconcileFailure("DisabledByHerald", $"Herald disabled the endpoint: {why} Change the resource's spec to enable it again.");
            }
            else if (Matches(desired, actual)) outcome = new(actual.Id!, false);
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

    /// <summary>The Secret and Herald agree on the current signing secret: the Secret's wins when it has one.</summary>
    private async Task SyncSecretAsync(WebhookEndpoint resource, SecretKeyRef reference, string? fromSecret, string endpointId,
        Herald.Client.Generated.Api.V1.Apps.Item.Endpoints.EndpointsRequestBuilder endpoints, CancellationToken cancellationToken)
    {
        var current = (await endpoints[endpointId].Secret.GetAsync(cancellationToken: cancellationToken))!.Key!;
        if (fromSecret is null) await secrets.WriteAsync(resource, reference, current, cancellationToken);
        else if (fromSecret != current)
            await endpoints[endpointId].Secret.Rotate.PostAsync(new RotateSecretInput { Key = fromSecret },
                Herald.Client.Idempotency.Key($"herald-operator:{resource.Metadata.Uid}:rotate:{Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(fromSecret)))[..16]}"),
                cancellationToken);
    }

    private static bool Matches(EndpointInput desired, EndpointResponse actual) =>
        desired.Url == actual.Url && desired.Description == (actual.Description ?? "") &&
        HeraldCalls.SameSet(desired.EventTypes, actual.EventTypes) && HeraldCalls.SameSet(desired.Channels, actual.Channels) &&
        desired.Disabled == actual.Disabled && desired.Ordering == actual.Ordering && desired.RateLimit == actual.RateLimit;

    public async Task DeleteAsync(WebhookEndpoint resource, CancellationToken cancellationToken)
    {
        if (resource.Status?.HeraldId is not { } id) return;
        string appId;
        try { appId = await applications.ResolveAsync(resource.Spec.ApplicationRef, cancellationToken); }
        catch (ReconcileFailure) { return; } // the application is gone, and its endpoints with it
        await HeraldCalls.DeleteAsync(() => herald.Api.V1.Apps[appId].Endpoints[id].DeleteAsync(cancellationToken: cancellationToken));
    }
}
