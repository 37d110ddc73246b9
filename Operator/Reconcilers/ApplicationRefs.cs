using Herald.Operator.Control;
using Herald.Operator.Resources;
using Microsoft.Extensions.Options;

namespace Herald.Operator.Reconcilers;

/// <summary>An <c>applicationRef</c> → the Herald id its <see cref="HeraldApplication"/> reports once Ready.</summary>
public sealed class ApplicationRefs(ResourceApi<HeraldApplication> applications, IOptions<OperatorOptions> options)
{
    public async Task<string> ResolveAsync(string name, CancellationToken cancellationToken)
    {
        var application = await applications.GetAsync(options.Value.Namespace, name, cancellationToken)
                          ?? throw new ReconcileFailure("ApplicationNotFound", $"No HeraldApplication named \"{name}\" in this namespace.");
        if (application.Metadata.DeletionTimestamp is not null)
            throw new ReconcileFailure("ApplicationDeleting", $"HeraldApplication \"{name}\" is being deleted.");
        return application.Status?.HeraldId
               ?? throw new ReconcileFailure("ApplicationNotReady", $"HeraldApplication \"{name}\" has no Herald application yet.");
    }
}
