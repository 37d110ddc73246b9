using Herald.ApiService.Auth;
using Herald.ApiService.Http;

namespace Herald.ApiService.Applications;

public static class ApplicationsApi
{
    public static RouteGroupBuilder MapApplications(this RouteGroupBuilder api)
    {
        var apps = api.MapGroup("/apps").WithTags("Applications");

        apps.MapPost("/", async (HttpContext context, ApplicationService applications, CancellationToken ct) =>
        {
            var created = await applications.CreateAsync(context.Caller(), await context.Request.ReadJsonAsync<ApplicationInput>(ct), ct);
            return TypedResults.Created($"/api/v1/apps/{created.Id}", created);
        }).Accepts<ApplicationInput>("application/json").WithName("CreateApplication");

        apps.MapGet("/", async (HttpContext context, ApplicationService applications, CancellationToken ct) =>
            TypedResults.Ok(await applications.ListAsync(context.Caller(), PageRequest.From(context.Request), ct)))
            .WithPaging().WithName("ListApplications");

        apps.MapGet("/{appId}", async (string appId, HttpContext context, ApplicationService applications, CancellationToken ct) =>
            TypedResults.Ok(await applications.GetAsync(context.Caller(), appId, ct)))
            .WithName("GetApplication");

        apps.MapPut("/{appId}", async (string appId, HttpContext context, ApplicationService applications, CancellationToken ct) =>
            TypedResults.Ok(await applications.UpdateAsync(context.Caller(), appId, await context.Request.ReadJsonAsync<ApplicationInput>(ct), ct)))
            .Accepts<ApplicationInput>("application/json").WithName("UpdateApplication");

        apps.MapDelete("/{appId}", async (string appId, HttpContext context, ApplicationService applications, CancellationToken ct) =>
        {
            await applications.DeleteAsync(context.Caller(), appId, ct);
            return TypedResults.NoContent();
        }).WithName("DeleteApplication");

        return apps;
    }
}
