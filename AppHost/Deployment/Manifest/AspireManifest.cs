using System.Text.Json;

namespace Herald.AppHost.Deployment.Manifest;

/// <summary>
/// The Aspire manifest (<c>--publisher manifest</c>) read back: the serialized AppHost model that azd and aspirate consume,
/// and the one the Kubernetes generator translates, so all three routes start from the same description.
/// </summary>
public sealed class AspireManifest
{
    /// <summary>The resource types azd and aspirate both understand. Anything else is a model Herald cannot deploy.</summary>
    public static readonly IReadOnlySet<string> DeployableTypes = new HashSet<string>(StringComparer.Ordinal)
    {
        "project.v0", "project.v1", "container.v0", "container.v1", "parameter.v0", "value.v0",
    };

    private AspireManifest(string path, IReadOnlyDictionary<string, ManifestResource> resources)
    {
        Path = path;
        Resources = resources;
    }

    /// <summary>Where the manifest was read from; project paths inside it are relative to its folder.</summary>
    public string Path { get; }

    public IReadOnlyDictionary<string, ManifestResource> Resources { get; }

    public IEnumerable<ManifestResource> Projects => Resources.Values.Where(r => r.Type.StartsWith("project.", StringComparison.Ordinal));

    public IEnumerable<ManifestResource> Containers => Resources.Values.Where(r => r.Type.StartsWith("container.", StringComparison.Ordinal));

    public IEnumerable<ManifestResource> SecretParameters => Resources.Values.Where(r => r.Type == "parameter.v0" && r.IsSecret);

    public static AspireManifest Load(string path)
    {
        using var document = JsonDocument.Parse(File.ReadAllText(path));
        var resources = document.RootElement.GetProperty("resources").EnumerateObject()
            .ToDictionary(r => r.Name, r => new ManifestResource(r.Name, r.Value.Clone()), StringComparer.Ordinal);

        var undeployable = resources.Values.Where(r => !DeployableTypes.Contains(r.Type)).Select(r => $"{r.Name} ({r.Type})").ToList();
        if (undeployable.Count > 0)
        {
            throw new DistributedApplicationException(
                $"The manifest holds resources azd and aspirate cannot deploy: {string.Join(", ", undeployable)}.");
        }
        return new AspireManifest(System.IO.Path.GetFullPath(path), resources);
    }

    public ManifestResource this[string name] => Resources.TryGetValue(name, out var resource)
        ? resource
        : throw new DistributedApplicationException($"The manifest refers to '{name}', which it does not describe.");
}

/// <summary>One entry of the manifest's <c>resources</c>, with typed access to the fields the generator uses.</summary>
public sealed class ManifestResource(string name, JsonElement json)
{
    public string Name { get; } = name;

    public string Type { get; } = json.GetProperty("type").GetString() ?? "";

    public JsonElement Json { get; } = json;

    public string? ConnectionString => OptionalString("connectionString");

    public string? Image => OptionalString("image");

    public string? Entrypoint => OptionalString("entrypoint");

    /// <summary>A project's path relative to the manifest.</summary>
    public string? ProjectPath => OptionalString("path");

    public IReadOnlyList<string> Args => Json.TryGetProperty("args", out var args)
        ? [.. args.EnumerateArray().Select(a => a.GetString() ?? "")]
        : [];

    /// <summary>Environment variables in manifest order: literal text with <c>{resource.…}</c> placeholders.</summary>
    public IReadOnlyList<KeyValuePair<string, string>> Env => Json.TryGetProperty("env", out var env)
        ? [.. env.EnumerateObject().Select(e => KeyValuePair.Create(e.Name, e.Value.GetString() ?? ""))]
        : [];

    public IReadOnlyList<ManifestBinding> Bindings => Json.TryGetProperty("bindings", out var bindings)
        ? [.. bindings.EnumerateObject().Select(b => new ManifestBinding(
            b.Name,
            b.Value.GetProperty("scheme").GetString() ?? "tcp",
            b.Value.TryGetProperty("transport", out var transport) ? transport.GetString() ?? "" : "",
            b.Value.TryGetProperty("targetPort", out var port) ? port.GetInt32() : null,
            b.Value.TryGetProperty("external", out var external) && external.GetBoolean()))]
        : [];

    public IReadOnlyList<ManifestVolume> Volumes => Json.TryGetProperty("volumes", out var volumes)
        ? [.. volumes.EnumerateArray().Select(v => new ManifestVolume(v.GetProperty("target").GetString() ?? "", v.GetProperty("readOnly").GetBoolean()))]
        : [];

    public bool HasBindMounts => Json.TryGetProperty("bindMounts", out var mounts) && mounts.GetArrayLength() > 0;

    public bool HasBuild => Json.TryGetProperty("build", out _);

    public bool IsSecret => ParameterInput is { } input && input.TryGetProperty("secret", out var secret) && secret.GetBoolean();

    /// <summary>A parameter's fixed default (<c>inputs.value.default.value</c>), if it has one.</summary>
    public string? DefaultValue => ParameterInput is { } input && input.TryGetProperty("default", out var @default)
                                   && @default.TryGetProperty("value", out var value)
        ? value.GetString()
        : null;

    /// <summary>How azd generates a parameter it does not prompt for (<c>inputs.value.default.generate</c>), if it does.</summary>
    public JsonElement? Generate => ParameterInput is { } input && input.TryGetProperty("default", out var @default)
                                    && @default.TryGetProperty("generate", out var generate)
        ? generate
        : null;

    public ManifestBinding Binding(string name) => Bindings.FirstOrDefault(b => b.Name == name)
        ?? throw new DistributedApplicationException($"Resource '{Name}' has no binding '{name}'.");

    private JsonElement? ParameterInput => Json.TryGetProperty("inputs", out var inputs) && inputs.TryGetProperty("value", out var value)
        ? value
        : null;

    private string? OptionalString(string property) => Json.TryGetProperty(property, out var value) ? value.GetString() : null;
}

public sealed record ManifestBinding(string Name, string Scheme, string Transport, int? TargetPort, bool External)
{
    /// <summary>HTTP/2 without TLS, spoken from the first byte (gRPC's cleartext transport): no HTTP/1.1 client, such as
    /// the kubelet's probes, can talk to it.</summary>
    public bool IsCleartextHttp2 => Scheme == "http" && Transport == "http2";
}

public sealed record ManifestVolume(string Target, bool ReadOnly);
