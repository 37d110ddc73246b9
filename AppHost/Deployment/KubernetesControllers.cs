using k8s.Models;

namespace Herald.AppHost.Deployment;

/// <summary>
/// A project that works through the Kubernetes API (an operator). The generated tree gives it the CRDs it serves, a
/// ServiceAccount bound to a namespaced Role with exactly <see cref="Rules"/>, and its model's replica count: leader
/// election, not CPU, decides which replica works, so it gets no autoscaler, and nothing calls it, so no Service.
/// </summary>
/// <param name="CrdDirectory">The CustomResourceDefinition YAML files it serves, applied with the rest of the tree.</param>
public sealed record KubernetesControllerAnnotation(string CrdDirectory, IReadOnlyList<V1PolicyRule> Rules) : IResourceAnnotation;

public static class KubernetesControllers
{
    /// <param name="crdFolder">Relative to the project's directory.</param>
    public static IResourceBuilder<ProjectResource> AsKubernetesController(this IResourceBuilder<ProjectResource> project, string crdFolder,
        IReadOnlyList<V1PolicyRule> rules)
    {
        var directory = Path.Combine(Path.GetDirectoryName(project.Resource.GetProjectMetadata().ProjectPath)!, crdFolder);
        return project.WithAnnotation(new KubernetesControllerAnnotation(directory, rules));
    }

    /// <summary>The controllers of the model, by resource name, with the replicas each runs.</summary>
    public static IReadOnlyDictionary<string, KubernetesController> In(DistributedApplicationModel model) =>
        model.Resources.OfType<ProjectResource>()
            .Select(p => (p.Name, Replicas: p.Annotations.OfType<ReplicaAnnotation>().LastOrDefault()?.Replicas ?? 1,
                Annotation: p.Annotations.OfType<KubernetesControllerAnnotation>().LastOrDefault()))
            .Where(p => p.Annotation is not null)
            .ToDictionary(p => p.Name, p => new KubernetesController(
                [.. Directory.EnumerateFiles(p.Annotation!.CrdDirectory, "*.yaml").Order(StringComparer.Ordinal)], p.Annotation.Rules, p.Replicas),
                StringComparer.Ordinal);
}

public sealed record KubernetesController(IReadOnlyList<string> CrdFiles, IReadOnlyList<V1PolicyRule> Rules, int Replicas);
