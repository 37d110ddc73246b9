using Herald.ApiService.Auth;
using Herald.ApiService.Http;

namespace Herald.ApiService.Portal;

/// <summary>REST routes that issue and revoke portal links.</summary>
public static class PortalAccessApi
{
    public static RouteGroupBuilder MapPortalAccess(this RouteGroupBuilder api)
    {
        var access = api.MapGroup("/apps/{appId}/portal-access").WithTags("Portal access");

        access.MapPost("/", async (string appId, HttpContext context, PortalAccessService service, CancellationToken ct) =>
        {
            var input = await context.Request.ReadOptionalJsonAsync(new PortalAccessInput(null, null), ct);
            var origin = $"{context.Request.Scheme}://{context.Request.Host}{context.Request.PathBase}";
            var created = await service.CreateAsync(context.Caller(), appId, input, origin, ct);
            return TypedResults.Created($"/api/v1/apps/{appId}/portal-access/{created.Id}", created);
        }).Accepts<PortalAccessInput>("application/json").WithName("CreatePortalAccess");

        access.MapGet("/", async (string appId, HttpContext context, PortalAccessService service, CancellationToken ct) =>
            TypedResults.Ok(await service.ListAsync(context.Caller(), appId, PageRequest.From(context.Request), ct)))
            .WithPaging().WithName("ListPortalAccess");

        access.MapDelete("/{accessId}", async (string appId, string accessId, HttpContext context, PortalAccessService service, CancellationToken ct) =>
        {
            await service.RevokeAsync(context.Caller(), appId, accessId, ct);
            return TypedResults.NoContent();
        }).WithName("RevokePortalAccess");

        return api;
    }
}
