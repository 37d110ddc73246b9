using Herald.ApiService.Auth;
using Herald.ApiService.Deliveries;
using Herald.ApiService.Http;

namespace Herald.ApiService.Endpoints;

/// <summary>REST routes for webhook endpoints (the "endpoints" of the domain, not ASP.NET's).</summary>
public static class EndpointsApi
{
    public static RouteGroupBuilder MapWebhookEndpoints(this RouteGroupBuilder api)
    {
        var endpoints = api.MapGroup("/apps/{appId}/endpoints").WithTags("Endpoints");

        endpoints.MapPost("/", async (string appId, HttpContext context, EndpointService service, CancellationToken ct) =>
        {
            var created = await service.CreateAsync(context.Caller(), appId, await context.Request.ReadJsonAsync<EndpointInput>(ct), ct);
            return TypedResults.Created($"/api/v1/apps/{appId}/endpoints/{created.Id}", created);
        }).Accepts<EndpointInput>("application/json").WithName("CreateEndpoint");

        endpoints.MapGet("/", async (string appId, HttpContext context, EndpointService service, CancellationToken ct) =>
            TypedResults.Ok(await service.ListAsync(context.Caller(), appId, PageRequest.From(context.Request), ct)))
            .WithPaging().WithName("ListEndpoints");

        endpoints.MapGet("/{endpointId}", async (string appId, string endpointId, HttpContext context, EndpointService service, CancellationToken ct) =>
            TypedResults.Ok(await service.GetAsync(context.Caller(), appId, endpointId, ct)))
            .WithName("GetEndpoint");

        endpoints.MapPut("/{endpointId}", async (string appId, string endpointId, HttpContext context, EndpointService service, CancellationToken ct) =>
            TypedResults.Ok(await service.UpdateAsync(context.Caller(), appId, endpointId, await context.Request.ReadJsonAsync<EndpointInput>(ct), ct)))
            .Accepts<EndpointInput>("application/json").WithName("UpdateEndpoint");

        endpoints.MapDelete("/{endpointId}", async (string appId, string endpointId, HttpContext context, EndpointService service, CancellationToken ct) =>
        {
            await service.DeleteAsync(context.Caller(), appId, endpointId, ct);
            return TypedResults.NoContent();
        }).WithName("DeleteEndpoint");

        endpoints.MapGet("/{endpointId}/secret", async (string appId, string endpointId, HttpContext context, EndpointService service, CancellationToken ct) =>
            TypedResults.Ok(await service.GetSecretAsync(context.Caller(), appId, endpointId, ct)))
            .WithName("GetEndpointSecret");

        endpoints.MapPost("/{endpointId}/secret/rotate", async (string appId, string endpointId, HttpContext context, EndpointService service, CancellationToken ct) =>
        {
            var input = await context.Request.ReadOptionalJsonAsync(new RotateSecretInput(null), ct);
            await service.RotateSecretAsync(context.Caller(), appId, endpointId, input, ct);
            return TypedResults.NoContent();
        }).Accepts<RotateSecretInput>("application/json").WithName("RotateEndpointSecret");

        endpoints.MapPost("/{endpointId}/test-event", async (string appId, string endpointId, HttpContext context, DeliveryService service, CancellationToken ct) =>
        {
            var input = await context.Request.ReadOptionalJsonAsync(new TestEventInput(null), ct);
            var message = await service.SendTestEventAsync(context.Caller(), appId, endpointId, input, ct);
            return TypedResults.Accepted($"/api/v1/apps/{appId}/messages/{message.Id}", message);
        }).Accepts<TestEventInput>("application/json").WithName("SendTestEvent");

        return api;
    }
}
