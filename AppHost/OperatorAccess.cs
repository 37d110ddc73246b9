using k8s.Models;

namespace Herald.AppHost;

/// <summary>
/// Everything the operator (Operator/) does with the Kubernetes API, as the rules of the namespaced Role its
/// ServiceAccount is bound to, and no more. Tests/Operator/OperatorAccessTests checks each request the operator makes
/// against them.
/// </summary>
public static class OperatorAccess
{
    public const string Group = "herald.dev";

    /// <summary>The AppHost setting that leaves the operator out of the published model.</summary>
    public const string PublishSetting = "Herald:Operator:Publish";

    private static readonly string[] Kinds = ["heraldapplications", "heraldeventtypes", "webhookendpoints"];

    public static readonly IReadOnlyList<V1PolicyRule> Rules =
    [
        // The declared resources: watched, and updated only to add or remove the finalizer.
        new() { ApiGroups = [Group], Resources = [.. Kinds], Verbs = ["get", "list", "watch", "update"] },
        new() { ApiGroups = [Group], Resources = [.. Kinds.Select(kind => kind + "/status")], Verbs = ["update"] },
        // Signing secrets are read from a Secret, or written to one the endpoint's resource owns.
        new() { ApiGroups = [""], Resources = ["secrets"], Verbs = ["get", "create", "update"] },
        // Drift corrected behind Git's back is recorded on the resource.
        new() { ApiGroups = [""], Resources = ["events"], Verbs = ["create"] },
        // Leader election.
        new() { ApiGroups = ["coordination.k8s.io"], Resources = ["leases"], Verbs = ["get", "create", "update"] },
    ];
}
