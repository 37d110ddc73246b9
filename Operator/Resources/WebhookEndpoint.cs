using System.Text.Json.Serialization;

namespace Herald.Operator.Resources;

public sealed class WebhookEndpoint : CustomResource<WebhookEndpointSpec>, IHeraldResource
{
    public static readonly ResourceType Type = new("WebhookEndpoint", "webhookendpoints");

    string? IHeraldResource.ApplicationRef => Spec.ApplicationRef;
}

public sealed class WebhookEndpointSpec
{
    /// <summary>The <see cref="HeraldApplication"/> (same namespace) whose endpoint this is.</summary>
    [JsonPropertyName("applicationRef")] public string ApplicationRef { get; set; } = "";
    [JsonPropertyName("url")] public string Url { get; set; } = "";
    [JsonPropertyName("description")] public string? Description { get; set; }
    /// <summary>The event types it receives; unset: all.</summary>
    [JsonPropertyName("eventTypes")] public List<string>? EventTypes { get; set; }
    /// <summary>Only messages sent to one of these channels; unset: any.</summary>
    [JsonPropertyName("channels")] public List<string>? Channels { get; set; }
    [JsonPropertyName("disabled")] public bool Disabled { get; set; }
    /// <summary><c>parallel</c> (default) or <c>fifo</c>.</summary>
    [JsonPropertyName("ordering")] public string? Ordering { get; set; }
    [JsonPropertyName("rateLimit")] public int? RateLimit { get; set; }
    /// <summary>
    /// The Secret holding the signing secret (<c>whsec_…</c>): read from it when it has the key, written to it (created,
    /// owned by this resource) otherwise. Unset: Herald's secret stays in Herald.
    /// </summary>
    [JsonPropertyName("signingSecret")] public SecretKeyRef? SigningSecret { get; set; }
}

public sealed class SecretKeyRef
{
    [JsonPropertyName("name")] public string Name { get; set; } = "";
    [JsonPropertyName("key")] public string Key { get; set; } = "signingSecret";
}
