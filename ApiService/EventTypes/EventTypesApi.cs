using Herald.ApiService.Auth;
using Herald.ApiService.Http;

namespace Herald.ApiService.EventTypes;

public static class EventTypesApi
{
    public static RouteGroupBuilder MapEventTypes(this RouteGroupBuilder api)
    {
        var types = api.MapGroup("/apps/{appId}/event-types").WithTags("Event types");

        types.MapPost("/", async (string appId, HttpContext context, EventTypeService service, CancellationToken ct) =>
        {
            var created = await service.CreateAsync(context.Caller(), appId, await context.Request.ReadJsonAsync<EventTypeInput>(ct), ct);
            return TypedResults.Created($"/api/v1/apps/{appId}/event-types/{created.Name}", created);
        }).Accepts<EventTypeInput>("application/json").WithName("CreateEventType");

        types.MapGet("/", async (string appId, bool? includeArchived, HttpContext context, EventTypeService service, CancellationToken ct) =>
            TypedResults.Ok(await service.ListAsync(context.Caller(), appId, includeArchived ?? false, PageRequest.From(context.Request), ct)))
            .WithPaging().WithName("ListEventTypes");

        types.MapGet("/{name}", async (string appId, string name, HttpContext context, EventTypeService service, CancellationToken ct) =>
            TypedResults.Ok(await service.GetAsync(context.Caller(), appId, name, ct)))
            .WithName("GetEventType");

        types.MapPut("/{name}", async (string appId, string name, HttpContext context, EventTypeService service, CancellationToken ct) =>
            TypedResults.Ok(await service.UpdateAsync(context.Caller(), appId, name, await context.Request.ReadJsonAsync<EventTypeInput>(ct), ct)))
            .Accepts<EventTypeInput>("application/json").WithName("UpdateEventType");

        types.MapDelete("/{name}", async (string appId, string name, HttpContext context, EventTypeService service, CancellationToken ct) =>
        {
            await service.ArchiveAsync(context.Caller(), appId, name, ct);
            return TypedResults.NoContent();
        }).WithName("ArchiveEventType");

        return api;
    }
}
