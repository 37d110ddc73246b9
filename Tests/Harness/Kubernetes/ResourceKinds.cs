namespace Herald.Tests.Harness.Kubernetes;

/// <summary>
/// A resource type the stand-in serves. <paramref name="Crd"/>: a custom resource with a status subresource, whose
/// generation follows its spec and whose updates must carry a resourceVersion (as the API server does for CRDs).
/// </summary>
public sealed record ResourceKind(string Group, string Version, string Plural, string Kind, bool Crd)
{
    public string ApiVersion => Group.Length == 0 ? Version : $"{Group}/{Version}";
}

/// <summary>Exactly the types the operator touches; anything else is a 404, as an unknown resource is.</summary>
public static class ResourceKinds
{
    public static readonly IReadOnlyList<ResourceKind> All =
    [
        new("herald.dev", "v1", "heraldapplications", "HeraldApplication", Crd: true),
        new("herald.dev", "v1", "heraldeventtypes", "HeraldEventType", Crd: true),
        new("herald.dev", "v1", "webhookendpoints", "WebhookEndpoint", Crd: true),
        new("coordination.k8s.io", "v1", "leases", "Lease", Crd: false),
        new("", "v1", "events", "Event", Crd: false),
        new("", "v1", "secrets", "Secret", Crd: false),
    ];

    public static ResourceKind? Find(string group, string version, string plural) =>
        All.FirstOrDefault(k => k.Group == group && k.Version == version && k.Plural == plural);
}

/// <summary>A failure the API server answers with a <c>Status</c> object (HTTP code, machine reason, message).</summary>
public sealed class ApiError(int code, string reason, string message) : Exception(message)
{
    public int Code { get; } = code;
    public string Reason { get; } = reason;

    public static ApiError NotFound(ResourceKind kind, string name) =>
        new(404, "NotFound", $"{kind.Plural}.{kind.Group} \"{name}\" not found");
    public static ApiError Conflict(ResourceKind kind, string name) =>
        new(409, "Conflict", $"Operation cannot be fulfilled on {kind.Plural}.{kind.Group} \"{name}\": the object has been modified; please apply your changes to the latest version and try again");
    public static ApiError AlreadyExists(ResourceKind kind, string name) =>
        new(409, "AlreadyExists", $"{kind.Plural}.{kind.Group} \"{name}\" already exists");
    public static ApiError Invalid(ResourceKind kind, string name, string why) =>
        new(422, "Invalid", $"{kind.Kind}.{kind.Group} \"{name}\" is invalid: {why}");
    public static ApiError Expired(long requested, long oldest) =>
        new(410, "Expired", $"too old resource version: {requested} ({oldest})");
}
