using Herald.Client.Generated;
using Herald.Client.Generated.Models;
using Herald.Operator.Control;
using Herald.Operator.Resources;
using k8s.Models;

namespace Herald.Operator.Reconcilers;

/// <summary><see cref="HeraldApplication"/> → a Herald application (name, rate limit).</summary>
public sealed class ApplicationReconciler(HeraldApiClient herald) : IReconciler<HeraldApplication>
{
    public async Task<ReconcileOutcome> ReconcileAsync(HeraldApplication resource, CancellationToken cancellationToken)
    {
        var desired = new ApplicationInput { Name = resource.Spec.Name ?? resource.Name(), RateLimit = resource.Spec.RateLimit };
        var actual = resource.Status?.HeraldId is { } id
            ? await HeraldCalls.FindAsync(() => herald.Api.V1.Apps[id].GetAsync(cancellationToken: cancellationToken))
            : null;
        if (actual is null)
        {
            var created = await herald.Api.V1.Apps.PostAsync(desired, HeraldCalls.CreateKey(resource), cancellationToken);
            return new(created!.Id!, DriftCorrected: false);
        }
        if (actual.Name == desired.Name && actual.RateLimit == desired.RateLimit) return new(actual.Id!, false);
        await herald.Api.V1.Apps[actual.Id].PutAsync(desired, cancellationToken: cancellationToken);
        return new(actual.Id!, HeraldCalls.WasReady(resource));
    }

    public Task DeleteAsync(HeraldApplication resource, CancellationToken cancellationToken) =>
        resource.Status?.HeraldId is { } id
            ? HeraldCalls.DeleteAsync(() => herald.Api.V1.Apps[id].DeleteAsync(cancellationToken: cancellationToken))
            : Task.CompletedTask;
}
