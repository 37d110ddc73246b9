namespace Herald.ApiService.Endpoints;

/// <summary>Configuration section <c>Herald:Endpoints</c>.</summary>
public sealed class EndpointOptions
{
    public const string Section = "Herald:Endpoints";

    /// <summary>Allow <c>http://</c> endpoint URLs. For development and tests only: production endpoints are https.</summary>
    public bool AllowHttpUrls { get; set; }

    /// <summary>How long a rotated-out secret keeps signing, so receivers can switch over without dropping webhooks.</summary>
    public TimeSpan RotatedSecretLifetime { get; set; } = TimeSpan.FromHours(24);

    /// <summary>How many rotated-out secrets may sign at once, besides the current one.</summary>
    public int MaxRotatedSecrets { get; set; } = 3;
}
