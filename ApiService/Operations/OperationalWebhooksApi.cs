using Herald.ApiService.Auth;
using Herald.ApiService.Endpoints;
using Herald.ApiService.Http;
using Herald.ApiService.Messages;

namespace Herald.ApiService.Operations;

/// <summary>REST routes for operational webhooks (admin keys only).</summary>
public static class OperationalWebhooksApi
{
    public static RouteGroupBuilder MapOperationalWebhooks(this RouteGroupBuilder api)
    {
        var operations = api.MapGroup("/operational-webhooks").WithTags("Operational webhooks");
        var endpoints = operations.MapGroup("/endpoints");

        endpoints.MapPost("/", async (HttpContext context, OperationalWebhookService service, CancellationToken ct) =>
        {
            var created = await service.CreateEndpointAsync(context.Caller(), await context.Request.ReadJsonAsync<EndpointInput>(ct), ct);
            return TypedResults.Created($"/api/v1/operational-webhooks/endpoints/{created.Id}", created);
        }).Accepts<EndpointInput>("application/json").WithName("CreateOperationalEndpoint");

        endpoints.MapGet("/", async (HttpContext context, OperationalWebhookService service, CancellationToken ct) =>
            TypedResults.Ok(await service.ListEndpointsAsync(context.Caller(), PageRequest.From(context.Request), ct)))
            .WithPaging().WithName("ListOperationalEndpoints");

        endpoints.MapGet("/{endpointId}", async (string endpointId, HttpContext context, OperationalWebhookService service, CancellationToken ct) =>
            TypedResults.Ok(await service.GetEndpointAsync(context.Caller(), endpointId, ct)))
            .WithName("GetOperationalEndpoint");

        endpoints.MapPut("/{endpointId}", async (string endpointId, HttpContext context, OperationalWebhookService service, CancellationToken ct) =>
            TypedResults.Ok(await service.UpdateEndpointAsync(context.Caller(), endpointId, await context.Request.ReadJsonAsync<EndpointInput>(ct), ct)))
            .Accepts<EndpointInput>("application/json").WithName("UpdateOperationalEndpoint");

        endpoints.MapDelete("/{endpointId}", async (string endpointId, HttpContext context, OperationalWebhookService service, CancellationToken ct) =>
        {
            await service.DeleteEndpointAsync(context.Caller(), endpointId, ct);
            return TypedResults.NoContent();
        }).WithName("DeleteOperationalEndpoint");

        endpoints.MapGet("/{endpointId}/secret", async (string endpointId, HttpContext context, OperationalWebhookService service, CancellationToken ct) =>
            TypedResults.Ok(await service.GetSecretAsync(context.Caller(), endpointId, ct)))
            .WithName("GetOperationalEndpointSecret");

        endpoints.MapPost("/{endpointId}/secret/rotate", async (string endpointId, HttpContext context, OperationalWebhookService service, CancellationToken ct) =>
        {
            var input = context.Request.ContentLength is null or 0 ? new RotateSecretInput(null) : await context.Request.ReadJsonAsync<RotateSecretInput>(ct);
            await service.RotateSecretAsync(context.Caller(), endpointId, input, ct);
            return TypedResults.NoContent();
        }).Accepts<RotateSecretInput>("application/json").WithName("RotateOperationalEndpointSecret");

        endpoints.MapGet("/{endpointId}/attempts", async (string endpointId, HttpContext context, OperationalWebhookService service, CancellationToken ct) =>
            TypedResults.Ok(await service.ListEndpointAttemptsAsync(context.Caller(), endpointId, PageRequest.From(context.Request), ct)))
            .WithPaging().WithName("ListOperationalEndpointAttempts");

        var messages = operations.MapGroup("/messages");

        messages.MapGet("/", async (HttpContext context, OperationalWebhookService service, CancellationToken ct) =>
            TypedResults.Ok(await service.ListMessagesAsync(context.Caller(), MessageFilter.From(context.Request), PageRequest.From(context.Request), ct)))
            .WithPaging().WithMessageFilter().WithName("ListOperationalMessages");

        messages.MapGet("/{messageId}", async (string messageId, HttpContext context, OperationalWebhookService service, CancellationToken ct) =>
            TypedResults.Ok(await service.GetMessageAsync(context.Caller(), messageId, ct)))
            .WithName("GetOperationalMessage");

        messages.MapGet("/{messageId}/attempts", async (string messageId, HttpContext context, OperationalWebhookService service, CancellationToken ct) =>
            TypedResults.Ok(await service.ListAttemptsAsync(context.Caller(), messageId, PageRequest.From(context.Request), ct)))
            .WithPaging().WithName("ListOperationalMessageAttempts");

        return api;
    }
}
