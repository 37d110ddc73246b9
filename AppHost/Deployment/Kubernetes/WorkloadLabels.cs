using k8s.Models;

namespace Herald.AppHost.Deployment.Kubernetes;

/// <summary>The recommended <c>app.kubernetes.io</c> labels; a workload's pods are selected by name alone, which never
/// changes for the life of the workload.</summary>
public static class WorkloadLabels
{
    public const string PartOf = "herald";

    public static Dictionary<string, string> Selector(string name) => new(StringComparer.Ordinal)
    {
        ["app.kubernetes.io/name"] = name,
    };

    public static Dictionary<string, string> All(string name, string component) => new(Selector(name), StringComparer.Ordinal)
    {
        ["app.kubernetes.io/component"] = component,
        ["app.kubernetes.io/part-of"] = PartOf,
    };

    /// <summary>Metadata for a workload's objects: its name and all its labels.</summary>
    public static V1ObjectMeta Metadata(string name, string component) => new() { Name = name, Labels = All(name, component) };
}
