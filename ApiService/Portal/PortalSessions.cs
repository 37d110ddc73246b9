using System.Security.Claims;
using Herald.ApiService.Auth;
using Herald.ApiService.Deliveries;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.Extensions.Options;

namespace Herald.ApiService.Portal;

/// <summary>
/// A portal session: a link's token, posted once, becomes a cookie holding the grant (Data Protection seals it). The
/// session lasts <see cref="PortalOptions.SessionLifetime"/> from then, not sliding, and ends early when its link is
/// revoked or its application deleted. Failed tokens count against the address like failed API keys.
/// </summary>
public static class PortalSessions
{
    public const string Scheme = "Portal";
    public const string Policy = "portal";
    public const string SignedOutPath = "/portal/signed-out";

    public static void AddPortalSessions(this IServiceCollection services)
    {
        services.AddAuthentication().AddCookie(Scheme, cookie =>
        {
            cookie.Cookie.Name = "herald-portal";
            cookie.Cookie.Path = "/portal";
            cookie.Cookie.HttpOnly = true;
            cookie.Cookie.SameSite = SameSiteMode.Lax;
            cookie.SlidingExpiration = false;
            cookie.LoginPath = SignedOutPath;
            cookie.AccessDeniedPath = SignedOutPath;
            cookie.Events.OnValidatePrincipal = async context =>
            {
                if (Caller.From(context.Principal!) is not { } caller
                    || await context.HttpContext.RequestServices.GetRequiredService<PortalAccessService>()
                        .IsRevokedAsync(caller.KeyId, context.HttpContext.RequestAborted))
                {
                    context.RejectPrincipal();
                    await context.HttpContext.SignOutAsync(Scheme);
                }
            };
            // The live stream is fetched by script: it gets a status, not a redirect to a page.
            cookie.Events.OnRedirectToLogin = context =>
            {
                if (context.Request.Path.StartsWithSegments("/portal/live")) context.Response.StatusCode = StatusCodes.Status401Unauthorized;
                // No return URL: only a new link starts another session, and it opens the endpoints page.
                else context.Response.Redirect(SignedOutPath);
                return Task.CompletedTask;
            };
        });
        services.AddOptions<CookieAuthenticationOptions>(Scheme)
            .Configure<IOptions<PortalOptions>>((cookie, portal) => cookie.ExpireTimeSpan = portal.Value.SessionLifetime);
        services.AddAuthorizationBuilder().AddPolicy(Policy, policy => policy
            .AddAuthenticationSchemes(Scheme)
            .RequireAuthenticatedUser()
            .RequireClaim(Caller.ApplicationClaim));
    }

    public static void MapPortalSessions(this IEndpointRouteBuilder app)
    {
        // The access page's form (or its script, from the link's fragment) posts the token here.
        app.MapPost("/portal/session", async (HttpContext context, PortalAccessService access, AuthenticationFailures failures, CancellationToken ct) =>
        {
            var address = context.Connection.RemoteIpAddress;
            if (failures.RetryAfter(address) is { } retryAfter)
            {
                context.Response.Headers.RetryAfter = ((int)Math.Ceiling(retryAfter.TotalSeconds)).ToString(System.Globalization.CultureInfo.InvariantCulture);
                return Results.Redirect($"{SignedOutPath}?reason=throttled");
            }
            var form = await context.Request.ReadFormAsync(ct);
            if (await access.RedeemAsync(form["token"].ToString().Trim(), ct) is not { } grant)
            {
                await failures.CountAsync(address);
                return Results.Redirect($"{SignedOutPath}?reason=invalid");
            }
            var principal = new ClaimsPrincipal(new ClaimsIdentity(grant.Caller.ToPrincipal(Scheme).Claims, Scheme));
            await context.SignInAsync(Scheme, principal, new AuthenticationProperties { IsPersistent = false });
            return Results.Redirect("/portal/endpoints");
        }).DisableAntiforgery().ExcludeFromDescription();

        app.MapPost("/portal/sign-out", async (HttpContext context) =>
        {
            await context.SignOutAsync(Scheme);
            return Results.Redirect($"{SignedOutPath}?reason=signed-out");
        }).RequireAuthorization(Policy).ExcludeFromDescription();

        app.MapGet("/portal/live", (string? endpointId, HttpContext context, DeliveryService deliveries, CancellationToken ct) =>
        {
            var caller = Caller.From(context.User)!;
            return DeliveriesApi.StreamAsync(context, caller, caller.ApplicationId!, endpointId, deliveries, ct);
        }).RequireAuthorization(Policy).ExcludeFromDescription();
    }
}
