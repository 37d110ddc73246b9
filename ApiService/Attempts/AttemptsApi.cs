using Herald.ApiService.Auth;
using Herald.ApiService.Http;
using Microsoft.OpenApi;

namespace Herald.ApiService.Attempts;

public static class AttemptsApi
{
    public static RouteGroupBuilder MapAttempts(this RouteGroupBuilder api)
    {
        api.MapGet("/apps/{appId}/attempts", async (string appId, HttpContext context, AttemptService service, CancellationToken ct) =>
            TypedResults.Ok(await service.SearchAsync(context.Caller(), appId, AttemptFilter.From(context.Request), PageRequest.From(context.Request), ct)))
            .WithTags("Attempts").WithPaging().WithAttemptFilter(endpointId: true, messageId: true).WithName("SearchAttempts");

        // The route names the message (or endpoint); a messageId (endpointId) in the query would only contradict it.
        api.MapGet("/apps/{appId}/messages/{messageId}/attempts", async (string appId, string messageId, HttpContext context, AttemptService service, CancellationToken ct) =>
            TypedResults.Ok(await service.ByMessageAsync(context.Caller(), appId, messageId, AttemptFilter.From(context.Request), PageRequest.From(context.Request), ct)))
            .WithTags("Attempts").WithPaging().WithAttemptFilter(endpointId: true, messageId: false).WithName("ListAttemptsByMessage");

        api.MapGet("/apps/{appId}/endpoints/{endpointId}/attempts", async (string appId, string endpointId, HttpContext context, AttemptService service, CancellationToken ct) =>
            TypedResults.Ok(await service.ByEndpointAsync(context.Caller(), appId, endpointId, AttemptFilter.From(context.Request), PageRequest.From(context.Request), ct)))
            .WithTags("Attempts").WithPaging().WithAttemptFilter(endpointId: false, messageId: true).WithName("ListAttemptsByEndpoint");

        return api;
    }

    /// <summary>Documents <see cref="AttemptFilter"/>'s query parameters.</summary>
    private static RouteHandlerBuilder WithAttemptFilter(this RouteHandlerBuilder route, bool endpointId, bool messageId)
    {
        route.WithQuery("status", JsonSchemaType.String, "Only attempts that succeeded or failed: succeeded, failed.")
            .WithQuery("statusClass", JsonSchemaType.String, "Only attempts whose HTTP status is in this class: 2xx, 3xx, 4xx, 5xx, or none (no response: timeout, dns, …).")
            .WithQuery("after", JsonSchemaType.String, "Only attempts made after this time (ISO 8601; compared to the millisecond).", "date-time")
            .WithQuery("before", JsonSchemaType.String, "Only attempts made before this time (ISO 8601; compared to the millisecond).", "date-time");
        if (endpointId) route.WithQuery("endpointId", JsonSchemaType.String, "Only attempts to this endpoint.");
        if (messageId) route.WithQuery("messageId", JsonSchemaType.String, "Only attempts of this message.");
        return route;
    }
}
