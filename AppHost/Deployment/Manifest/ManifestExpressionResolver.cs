using System.Globalization;
using System.Text.RegularExpressions;

namespace Herald.AppHost.Deployment.Manifest;

/// <summary>
/// Resolves the manifest's <c>{resource.…}</c> placeholders the way they resolve inside one Kubernetes namespace: a
/// binding's host is the resource's Service name, its port the Service port (the target port), a connection string
/// the resolved string, and a secret parameter stays a reference to be filled in from a Secret.
/// </summary>
public sealed partial class ManifestExpressionResolver(AspireManifest manifest, IReadOnlyDictionary<string, int> projectPorts)
{
    // Connection strings refer to other connection strings (herald → postgres); deeper than this is a cycle.
    private const int MaxDepth = 16;

    public PodValue Resolve(string expression) => new(Merge(ResolveParts(expression, depth: 0)));

    /// <summary>The port a binding is served on inside the cluster: its target port, or for a project's http binding,
    /// which the manifest leaves to the image, the container's http port (<paramref name="projectPorts"/>).</summary>
    public int PortOf(ManifestResource resource, ManifestBinding binding)
    {
        if (binding.TargetPort is { } target) return target;
        if (!projectPorts.TryGetValue(resource.Name, out var httpPort))
        {
            throw new DistributedApplicationException($"Binding '{binding.Name}' of '{resource.Name}' has no target port.");
        }
        return IsServed(resource, binding)
            ? httpPort
            : throw new DistributedApplicationException(
                $"'{resource.Name}' serves no TLS in the cluster, so its binding '{binding.Name}' has no port there: refer to its http binding and terminate TLS at an ingress.");
    }

    /// <summary>
    /// Whether anything listens for the binding in the cluster. Aspire gives every project an https binding with no
    /// target port, which only a platform that terminates TLS in front of the app honours (Container Apps, via azd);
    /// Herald's services serve plain HTTP, so in Kubernetes that binding has no port, and TLS is the ingress's job.
    /// </summary>
    public bool IsServed(ManifestResource resource, ManifestBinding binding) =>
        binding.TargetPort is not null || !projectPorts.ContainsKey(resource.Name) || binding.Scheme != "https";

    private IEnumerable<PodValuePart> ResolveParts(string expression, int depth)
    {
        if (depth > MaxDepth) throw new DistributedApplicationException($"Manifest expressions nest too deeply at '{expression}'.");

        var position = 0;
        foreach (Match placeholder in Placeholder().Matches(expression))
        {
            if (placeholder.Index > position) yield return new LiteralPart(expression[position..placeholder.Index]);
            foreach (var part in ResolveReference(placeholder.Groups[1].Value, depth)) yield return part;
            position = placeholder.Index + placeholder.Length;
        }
        if (position < expression.Length) yield return new LiteralPart(expression[position..]);
    }

    private IEnumerable<PodValuePart> ResolveReference(string reference, int depth)
    {
        var path = reference.Split('.');
        var resource = manifest[path[0]];
        return path[1..] switch
        {
            ["connectionString"] => ResolveParts(
                resource.ConnectionString ?? throw new DistributedApplicationException($"'{resource.Name}' has no connection string."), depth + 1),
            ["value"] or ["inputs", "value"] => [ResolveParameter(resource)],
            ["bindings", var binding, var property] => [new LiteralPart(ResolveBinding(resource, resource.Binding(binding), property))],
            _ => throw new DistributedApplicationException($"The manifest expression '{{{reference}}}' is not one the Kubernetes generator knows."),
        };
    }

    private static PodValuePart ResolveParameter(ManifestResource parameter)
    {
        if (parameter.Type != "parameter.v0")
        {
            throw new DistributedApplicationException($"'{{{parameter.Name}.value}}' refers to a {parameter.Type}, not a parameter.");
        }
        if (parameter.IsSecret) return new SecretPart(parameter.Name);
        return new LiteralPart(parameter.DefaultValue
            ?? throw new DistributedApplicationException($"Parameter '{parameter.Name}' has no default value to write into the manifests."));
    }

    private string ResolveBinding(ManifestResource resource, ManifestBinding binding, string property)
    {
        var port = PortOf(resource, binding).ToString(CultureInfo.InvariantCulture);
        return property switch
        {
            "host" => resource.Name,
            "port" or "targetPort" => port,
            "scheme" => binding.Scheme,
            "url" => $"{binding.Scheme}://{resource.Name}:{port}",
            _ => throw new DistributedApplicationException($"Binding property '{property}' of '{resource.Name}' is not one the Kubernetes generator knows."),
        };
    }

    private static List<PodValuePart> Merge(IEnumerable<PodValuePart> parts)
    {
        var merged = new List<PodValuePart>();
        foreach (var part in parts)
        {
            if (part is LiteralPart next && merged is [.., LiteralPart previous])
            {
                merged[^1] = new LiteralPart(previous.Text + next.Text);
            }
            else if (part is not LiteralPart { Text: "" })
            {
                merged.Add(part);
            }
        }
        return merged;
    }

    [GeneratedRegex(@"\{([^{}]+)\}")]
    private static partial Regex Placeholder();
}
