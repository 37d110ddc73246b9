using System.Reflection;
using System.Text.RegularExpressions;
using Herald.ApiService.Portal.Components;
using Microsoft.Extensions.Options;

namespace Herald.ApiService.Portal;

/// <summary>The consumer portal: server-rendered Razor components under <c>/portal</c>, plain HTML forms, no build step
/// and no script framework (one small script adds live attempts).</summary>
public static partial class PortalHosting
{
    public static void AddHeraldPortal(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<PortalOptions>().Bind(builder.Configuration.GetSection(PortalOptions.Section))
            .Validate(o => AccentColor().IsMatch(o.AccentColor), "Herald:Portal:AccentColor must be a CSS hex colour: #rgb or #rrggbb.")
            .Validate(o => o.LogoUrl is null || o.LogoUrl.StartsWith("https://", StringComparison.Ordinal) || o.LogoUrl.StartsWith('/'),
                "Herald:Portal:LogoUrl must be an https URL or a path on this host.")
            .Validate(o => o.PublicUrl is null || Uri.TryCreate(o.PublicUrl, UriKind.Absolute, out var url) && url.Scheme is "http" or "https",
                "Herald:Portal:PublicUrl must be an absolute http(s) URL.")
            .Validate(o => o.SessionLifetime > TimeSpan.Zero && o.SessionLifetime <= TimeSpan.FromDays(7),
                "Herald:Portal:SessionLifetime must be more than zero and at most 7 days.")
            .ValidateOnStart();
        builder.Services.AddSingleton<PortalAccessService>();
        builder.Services.AddHeraldDataProtection();
        builder.Services.AddPortalSessions();
        builder.Services.AddRazorComponents();
    }

    public static void MapHeraldPortal(this WebApplication app)
    {
        app.MapPortalSessions();
        app.MapPortalAsset("portal.css", "text/css; charset=utf-8");
        app.MapPortalAsset("live.js", "text/javascript; charset=utf-8");
        app.MapGet("/portal", () => Results.Redirect("/portal/endpoints")).ExcludeFromDescription();
        app.MapRazorComponents<PortalApp>();
    }

    /// <summary>Serves a file embedded from <c>Portal/Assets</c>; they change only with a release, so browsers may
    /// keep them an hour.</summary>
    private static void MapPortalAsset(this WebApplication app, string name, string contentType)
    {
        using var stream = Assembly.GetExecutingAssembly().GetManifestResourceStream($"Herald.ApiService.Portal.Assets.{name}")
            ?? throw new InvalidOperationException($"The portal asset {name} is not embedded.");
        using var reader = new StreamReader(stream);
        var content = reader.ReadToEnd();
        app.MapGet($"/portal/assets/{name}", (HttpContext context) =>
        {
            context.Response.Headers.CacheControl = "public, max-age=3600";
            return Results.Text(content, contentType);
        }).ExcludeFromDescription();
    }

    [GeneratedRegex("^#([0-9a-fA-F]{3}|[0-9a-fA-F]{6})\\z")]
    private static partial Regex AccentColor();
}
