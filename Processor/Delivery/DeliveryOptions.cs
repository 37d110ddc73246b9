namespace Herald.Processor.Delivery;

/// <summary>
/// Configuration section <c>Herald:Delivery</c>. Until endpoints are managed through the API, the walking skeleton
/// delivers every message to the one endpoint configured here.
/// </summary>
public sealed class DeliveryOptions
{
    public const string Section = "Herald:Delivery";

    public Uri? EndpointUrl { get; set; }

    /// <summary>The endpoint's signing secret, <c>whsec_</c> + base64.</summary>
    public string? EndpointSecret { get; set; }

    public TimeSpan RequestTimeout { get; set; } = TimeSpan.FromSeconds(15);

    public string UserAgent { get; set; } = "Herald-Webhooks/1.0";
}
