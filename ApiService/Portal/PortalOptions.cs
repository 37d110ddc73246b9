namespace Herald.ApiService.Portal;

/// <summary>The consumer portal (<c>Herald:Portal</c>).</summary>
public sealed class PortalOptions
{
    public const string Section = "Herald:Portal";

    /// <summary>Where customers reach the API's HTTP port (scheme, host and any path prefix), used to build portal
    /// links. Unset, a REST request's own origin is used, and a gRPC call gets a link relative to that origin.</summary>
    public string? PublicUrl { get; set; }

    /// <summary>How long a session lasts once a link has started it, whatever the link's own expiry; revoking the
    /// link ends it sooner.</summary>
    public TimeSpan SessionLifetime { get; set; } = TimeSpan.FromHours(8);

    /// <summary>The name in the portal's header.</summary>
    public string Title { get; set; } = "Webhooks";

    /// <summary>An image URL for the header (https, or a path on this host); none when unset.</summary>
    public string? LogoUrl { get; set; }

    /// <summary>The accent colour, a CSS hex colour (#rgb or #rrggbb).</summary>
    public string AccentColor { get; set; } = "#0f6cbd";
}
