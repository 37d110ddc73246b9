using System.Text.Json;
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
    /// <summary>Headers Herald adds to every delivery, for values that are not secret; a name here wins over the same
    /// name from <see cref="HeadersFrom"/> (as a Pod's <c>env</c> wins over its <c>envFrom</c>).</summary>
    [JsonPropertyName("headers")] public Dictionary<string, string>? Headers { get; set; }
    /// <summary>Secrets whose every key is a header name and value (a Pod's <c>envFrom</c>); a later one wins a name.</summary>
    [JsonPropertyName("headersFrom")] public List<HeadersSource>? HeadersFrom { get; set; }
    /// <summary>Herald's content filter, as its API takes it; unset: none.</summary>
    [JsonPropertyName("filter")] public JsonElement? Filter { get; set; }
    /// <summary>Herald's retry policy for this endpoint (each field unset: the application's).</summary>
    [JsonPropertyName("retryPolicy")] public EndpointRetryPolicy? RetryPolicy { get; set; }
}

public sealed class HeadersSource
{
    [JsonPropertyName("secretRef")] public SecretRef SecretRef { get; set; } = new();
}

public sealed class SecretRef
{
    [JsonPropertyName("name")] public string Name { get; set; } = "";
}

/// <summary>Herald's <c>retryPolicy</c>: durations like <c>5s</c>, <c>10m</c>, <c>2h</c>.</summary>
public sealed class EndpointRetryPolicy
{
    [JsonPropertyName("delays")] public List<string>? Delays { get; set; }
    [JsonPropertyName("maxAttempts")] public int? MaxAttempts { get; set; }
    [JsonPropertyName("timeout")] public string? Timeout { get; set; }
}

public sealed class SecretKeyRef
{
    [JsonPropertyName("name")] public string Name { get; set; } = "";
    [JsonPropertyName("key")] public string Key { get; set; } = "signingSecret";
}
