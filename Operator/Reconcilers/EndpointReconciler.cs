using Herald.Client.Generated;
using Herald.Client.Generated.Models;
using Herald.Operator.Control;
using Herald.Operator.Resources;
using Microsoft.Kiota.Abstractions;

namespace Herald.Operator.Reconcilers;

/// <summary><see cref="WebhookEndpoint"/> → an endpoint of the referenced application.</summary>
public sealed class EndpointReconciler(HeraldApiClient herald, ApplicationRefs applications) : IReconciler<WebhookEndpoint>
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
        try
        {
            if (actual is null)
            {
                var created = await endpoints.PostAsync(desired, HeraldCalls.CreateKey(resource), cancellationToken);
                return new(created!.Id!, false);
            }
            if (Matches(desired, actual)) return new(actual.Id!, false);
            await endpoints[actual.Id].PutAsync(desired, cancellationToken: cancellationToken);
            return new(actual.Id!, HeraldCalls.WasReady(resource));
        }
        catch (ApiException e) when (e.ResponseStatusCode is 400 or 422)
        {
            throw HeraldCalls.Rejected(e);
        }
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
