using System.ComponentModel;
using Herald.AppHost.Deployment.Kubernetes;
using Herald.AppHost.Infrastructure.Local;
using Herald.Tests.Harness;
using k8s;
using k8s.Models;

namespace Herald.Tests.Deployment;

/// <summary>
/// The kustomize tree the AppHost generates, generated once for a test class, and each overlay as
/// <c>kubectl kustomize</c> renders it — read back into typed objects (strictly: unknown fields fail).
/// </summary>
public sealed class KubernetesTree : IAsyncLifetime
{
    public static readonly string[] Overlays = ["dev", "prod"];

    public string Directory { get; } = Path.Combine(Path.GetTempPath(), $"herald-k8s-{Guid.NewGuid():N}");

    public Dictionary<string, RenderedOverlay> Rendered { get; } = [];

    /// <summary>The dev overlay's generated secret values, by parameter name.</summary>
    public IReadOnlyDictionary<string, string> DevSecrets { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        await AppHostPublish.KubernetesAsync(Directory);
        foreach (var overlay in Overlays)
        {
            Rendered[overlay] = await RenderAsync(Path.Combine(Directory, "overlays", overlay));
        }
        DevSecrets = ReadSecrets(Path.Combine(Directory, "overlays", "dev", KustomizeTree.SecretsFile));
    }

    public Task DisposeAsync()
    {
        System.IO.Directory.Delete(Directory, recursive: true);
        return Task.CompletedTask;
    }

    public static async Task<RenderedOverlay> RenderAsync(string overlay)
    {
        ProcessResult result;
        try
        {
            result = await LocalProcess.RunAsync("kubectl", ["kustomize", overlay], TimeSpan.FromMinutes(1), CancellationToken.None);
        }
        catch (Win32Exception)
        {
            throw new InvalidOperationException("kubectl is not installed: apt-get install kubernetes-client (.ci/run does).");
        }
        Assert.True(result.ExitCode == 0, $"kubectl kustomize {overlay} failed: {result.Output}");
        return new RenderedOverlay(result.Output, KubernetesYaml.LoadAllFromString(result.Output, strict: true));
    }

    public static IReadOnlyDictionary<string, string> ReadSecrets(string path) => File.ReadAllLines(path)
        .Where(line => line.Contains('=', StringComparison.Ordinal))
        .ToDictionary(line => line[..line.IndexOf('=', StringComparison.Ordinal)], line => line[(line.IndexOf('=', StringComparison.Ordinal) + 1)..]);
}

/// <summary>One overlay as the cluster would receive it.</summary>
public sealed record RenderedOverlay(string Yaml, IReadOnlyList<object> Objects)
{
    public IEnumerable<T> OfKind<T>() => Objects.OfType<T>();

    public T Named<T>(string name) where T : IMetadata<V1ObjectMeta> => Assert.Single(OfKind<T>(), o => o.Metadata.Name == name);

    /// <summary>The environment a container starts with: its ConfigMaps' data, then its own variables, with
    /// <c>$(VAR)</c> expanded from earlier variables and secret references filled from <paramref name="secrets"/> the way
    /// the kubelet fills them from the Secret.</summary>
    public Dictionary<string, string> EnvironmentOf(V1Container container, Func<V1SecretKeySelector, string> secrets)
    {
        var environment = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var source in container.EnvFrom ?? [])
        {
            foreach (var (key, value) in Named<V1ConfigMap>(source.ConfigMapRef.Name).Data) environment[key] = value;
        }
        foreach (var variable in container.Env ?? [])
        {
            environment[variable.Name] = variable.ValueFrom?.SecretKeyRef is { } reference
                ? secrets(reference)
                : environment.Aggregate(variable.Value, (value, defined) => value.Replace($"$({defined.Key})", defined.Value, StringComparison.Ordinal));
        }
        return environment;
    }
}
