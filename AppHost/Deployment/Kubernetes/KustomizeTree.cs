using System.Reflection;
using Herald.AppHost.Deployment.Manifest;
using k8s;
using k8s.Models;

namespace Herald.AppHost.Deployment.Kubernetes;

/// <summary>
/// Writes the kustomize tree: <c>base/</c> (one file per resource, and a ConfigMap generator per workload) and
/// <c>overlays/&lt;environment&gt;/</c> (namespace, autoscalers, and where the Secret comes from).
/// </summary>
public static class KustomizeTree
{
    public const string SecretsFile = "secrets.env";

    public const string Command = "dotnet run --project AppHost -- --operation publish --step publish-kubernetes --output-path <directory>";

    private const string Header = $"# Generated from the Herald AppHost model by `{Command}`.\n# Change the AppHost or its Herald:Kubernetes settings and generate again rather than editing this file.\n";

    public static string ConfigMapName(string workload) => $"{workload}-config";

    /// <param name="configuredValue">A secret parameter's value in the AppHost's configuration, if it has one.</param>
    /// <param name="controllers">Projects that work through the Kubernetes API (see <see cref="KubernetesControllerAnnotation"/>).</param>
    public static void Write(AspireManifest manifest, KubernetesOptions options, IReadOnlyDictionary<string, KubernetesController> controllers,
        string directory, Func<string, string?> configuredValue)
    {
        var containers = manifest.Projects.ToDictionary(p => p.Name, p => ProjectContainer.For(manifest, p, options), StringComparer.Ordinal);
        var resolver = new ManifestExpressionResolver(manifest, containers.ToDictionary(c => c.Key, c => c.Value.HttpPort, StringComparer.Ordinal));
        var services = manifest.Projects.Select(p => (p.Name, Workload: ServiceWorkload.For(p, containers[p.Name], resolver, options, controllers.GetValueOrDefault(p.Name)))).ToList();
        var backing = manifest.Containers.Select(c => (c.Name, Workload: BackingServiceWorkload.For(c, resolver, options))).ToList();

        var baseDirectory = Path.Combine(directory, "base");
        if (Directory.Exists(baseDirectory)) Directory.Delete(baseDirectory, recursive: true);
        Directory.CreateDirectory(baseDirectory);

        var files = new List<string>();
        var configMaps = new List<KustomizeGenerator>();
        foreach (var (name, objects, environment) in services.Select(s => (s.Name, s.Workload.Objects, s.Workload.Environment))
                     .Concat(backing.Select(b => (b.Name, b.Workload.Objects, b.Workload.Environment))))
        {
            files.Add($"{name}.yaml");
            WriteObjects(Path.Combine(baseDirectory, $"{name}.yaml"), objects);
            if (environment.Settings.Count > 0)
            {
                configMaps.Add(new KustomizeGenerator
                {
                    Name = ConfigMapName(name),
                    Literals = [.. environment.Settings.Select(s => $"{s.Key}={s.Value}")],
                });
            }
        }
        // CustomResourceDefinitions as their project declares them (cluster-scoped: the overlays' namespace leaves them be).
        foreach (var crd in controllers.Values.SelectMany(c => c.CrdFiles))
        {
            var file = $"crds/{Path.GetFileName(crd)}";
            Directory.CreateDirectory(Path.Combine(baseDirectory, "crds"));
            File.WriteAllText(Path.Combine(baseDirectory, file), $"# Copied from {Path.GetFileName(Path.GetDirectoryName(Path.GetDirectoryName(crd)))}/{Path.GetFileName(Path.GetDirectoryName(crd))} by `{Command}`.\n" + File.ReadAllText(crd));
            files.Add(file);
        }
        WriteKustomization(Path.Combine(baseDirectory, "kustomization.yaml"), new Kustomization { Resources = files, ConfigMapGenerator = configMaps });

        foreach (var (environmentName, environment) in options.Environments)
        {
            var overlay = Path.Combine(directory, "overlays", environmentName);
            ClearGenerated(overlay);
            WriteObjects(Path.Combine(overlay, "namespace.yaml"), [new V1Namespace { Metadata = new V1ObjectMeta { Name = environment.Namespace } }]);
            WriteObjects(Path.Combine(overlay, "autoscalers.yaml"), [.. services.Select(s => s.Workload.Autoscaler(environment)).OfType<V2HorizontalPodAutoscaler>()]);
            if (environment.GenerateSecrets)
            {
                DevelopmentSecrets.Write(Path.Combine(overlay, SecretsFile), manifest.SecretParameters, configuredValue);
            }
            WriteKustomization(Path.Combine(overlay, "kustomization.yaml"), new Kustomization
            {
                Namespace = environment.Namespace,
                // `bases` rather than a directory under `resources`: kustomize before v3 (Debian's kubectl) reads
                // only files there.
                Bases = ["../../base"],
                Resources = ["namespace.yaml", "autoscalers.yaml"],
                SecretGenerator = environment.GenerateSecrets ? [new KustomizeGenerator { Name = options.SecretName, Env = SecretsFile }] : null,
            });
        }
    }

    // An overlay's generated files are replaced; its secrets.env is kept so regenerating never rotates passwords that
    // a database volume already holds.
    private static void ClearGenerated(string overlay)
    {
        Directory.CreateDirectory(overlay);
        foreach (var file in Directory.EnumerateFiles(overlay, "*.yaml"))
        {
            File.Delete(file);
        }
    }

    private static void WriteObjects(string path, IEnumerable<IKubernetesObject> objects) =>
        File.WriteAllText(path, Header + string.Join("---\n", objects.Select(o => KubernetesYaml.Serialize(Stamped(o)).TrimEnd() + "\n")));

    private static void WriteKustomization(string path, Kustomization kustomization) =>
        File.WriteAllText(path, Header + KubernetesYaml.Serialize(kustomization).TrimEnd() + "\n");

    /// <summary>Sets apiVersion and kind, which the typed models leave to the caller, from the model's own entity attribute.</summary>
    private static IKubernetesObject Stamped(IKubernetesObject value)
    {
        var entity = value.GetType().GetCustomAttribute<KubernetesEntityAttribute>()
            ?? throw new InvalidOperationException($"{value.GetType().Name} is not a Kubernetes entity.");
        value.ApiVersion = string.IsNullOrEmpty(entity.Group) ? entity.ApiVersion : $"{entity.Group}/{entity.ApiVersion}";
        value.Kind = entity.Kind;
        return value;
    }
}

/// <summary>The fields of kustomization.yaml the generator writes, all read by kustomize v2 and later.</summary>
public sealed class Kustomization
{
    public string ApiVersion { get; set; } = "kustomize.config.k8s.io/v1beta1";

    public string Kind { get; set; } = "Kustomization";

    public string? Namespace { get; set; }

    public List<string>? Bases { get; set; }

    public List<string>? Resources { get; set; }

    public List<KustomizeGenerator>? ConfigMapGenerator { get; set; }

    public List<KustomizeGenerator>? SecretGenerator { get; set; }
}

public sealed class KustomizeGenerator
{
    public required string Name { get; set; }

    public List<string>? Literals { get; set; }

    /// <summary>A <c>KEY=value</c> file (<c>envs</c> in kustomize v4+, which still reads <c>env</c>).</summary>
    public string? Env { get; set; }
}
