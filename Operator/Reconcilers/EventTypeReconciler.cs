using Herald.Client.Generated;
using Herald.Client.Generated.Models;
using Herald.Operator.Control;
using Herald.Operator.Resources;

namespace Herald.Operator.Reconcilers;

/// <summary><see cref="HeraldEventType"/> → an event type of the referenced application (its id is its name).</summary>
public sealed class EventTypeReconciler(HeraldApiClient herald, ApplicationRefs applications) : IReconciler<HeraldEventType>
{
    public async Task<ReconcileOutcome> ReconcileAsync(HeraldEventType resource, CancellationToken cancellationToken)
    {
        var appId = await applications.ResolveAsync(resource.Spec.ApplicationRef, cancellationToken);
        var types = herald.Api.V1.Apps[appId].EventTypes;
        var desired = new EventTypeInput
        {
            Name = resource.Spec.Name, Description = resource.Spec.Description ?? "", Schema = UntypedJson.From(resource.Spec.Schema), Archived = false,
        };
        var actual = await HeraldCalls.FindAsync(() => types[resource.Spec.Name].GetAsync(cancellationToken: cancellationToken));
        if (actual is null)
        {
            await types.PostAsync(desired, HeraldCalls.CreateKey(resource), cancellationToken);
            return new(resource.Spec.Name, false);
        }
        if (actual.Description == desired.Description && UntypedJson.Same(resource.Spec.Schema, actual.Schema) && actual.Archived != true) return new(resource.Spec.Name, false);
        // Archived (deleted) in Herald, or described differently: put back.
        try
        {
            await types[resource.Spec.Name].PutAsync(desired, cancellationToken: cancellationToken);
        }
        catch (Microsoft.Kiota.Abstractions.ApiException e) when (e.ResponseStatusCode is 400 or 422)
        {
            throw HeraldCalls.Rejected(e);
        }
        return new(resource.Spec.Name, HeraldCalls.WasReady(resource));
    }

    public async Task DeleteAsync(HeraldEventType resource, CancellationToken cancellationToken)
    {
        if (resource.Status?.HeraldId is null) return;
        string appId;
        try { appId = await applications.ResolveAsync(resource.Spec.ApplicationRef, cancellationToken); }
        catch (ReconcileFailure) { return; } // the application is gone, and its event types with it
        await HeraldCalls.DeleteAsync(() => herald.Api.V1.Apps[appId].EventTypes[resource.Spec.Name].DeleteAsync(cancellationToken: cancellationToken));
    }
}
