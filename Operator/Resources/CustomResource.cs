using System.Text.Json.Serialization;
using k8s;
using k8s.Models;

namespace Herald.Operator.Resources;

/// <summary>A <c>herald.dev/v1</c> resource: metadata, the spec Git holds, and the status the operator writes.</summary>
/// <summary>What the control loop needs of any of them: metadata and the status it writes.</summary>
public interface IHeraldResource : IKubernetesObject<V1ObjectMeta>
{
    ResourceStatus? Status { get; set; }

    /// <summary>The HeraldApplication this resource needs first, if any.</summary>
    string? ApplicationRef => null;
}

public abstract class CustomResource<TSpec> : IHeraldResource where TSpec : new()
{
    [JsonPropertyName("apiVersion")] public string ApiVersion { get; set; } = ResourceGroup.ApiVersion;
    [JsonPropertyName("kind")] public string Kind { get; set; } = "";
    [JsonPropertyName("metadata")] public V1ObjectMeta Metadata { get; set; } = new();
    [JsonPropertyName("spec")] public TSpec Spec { get; set; } = new();
    [JsonPropertyName("status")] public ResourceStatus? Status { get; set; }
}

/// <summary>Every kind reports the same: the Herald object it made, the generation it last acted on, and Ready.</summary>
public sealed class ResourceStatus
{
    [JsonPropertyName("heraldId")] public string? HeraldId { get; set; }
    [JsonPropertyName("observedGeneration")] public long? ObservedGeneration { get; set; }
    [JsonPropertyName("conditions")] public List<Condition> Conditions { get; set; } = [];
}

/// <summary>A Kubernetes-style condition (metav1.Condition).</summary>
public sealed record Condition(
    [property: JsonPropertyName("type")] string Type,
    [property: JsonPropertyName("status")] string Status,
    [property: JsonPropertyName("reason")] string Reason,
    [property: JsonPropertyName("message")] string Message,
    [property: JsonPropertyName("observedGeneration")] long ObservedGeneration,
    [property: JsonPropertyName("lastTransitionTime")] DateTime LastTransitionTime);

public sealed class CustomResourceList<T>
{
    [JsonPropertyName("metadata")] public V1ListMeta Metadata { get; set; } = new();
    [JsonPropertyName("items")] public List<T> Items { get; set; } = [];
}

public static class ResourceGroup
{
    public const string Group = "herald.dev";
    public const string Version = "v1";
    public const string ApiVersion = Group + "/" + Version;
    /// <summary>Held by every resource the operator has acted on: Kubernetes keeps it until Herald's side is deleted.</summary>
    public const string Finalizer = "herald.dev/cleanup";
}

/// <summary>A kind's names in the API: the plural is the path segment.</summary>
public sealed record ResourceType(string Kind, string Plural);
