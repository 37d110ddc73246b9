using Herald.ApiService.Auth;
using Herald.ApiService.Http;

namespace Herald.ApiService.Attempts;

public static class AttemptsApi
{
    public static RouteGroupBuilder MapAttempts(this RouteGroupBuilder api)
    {
        api.MapGet("/apps/{appId}/messages/{messageId}/attempts", async (string appId, string messageId, HttpContext context, AttemptService service, CancellationToken ct) =>
            TypedResults.Ok(await service.ByMessageAsync(context.Caller(), appId, messageId, PageRequest.From(context.Request), ct)))
            .WithTags("Attempts").WithPaging().WithName("ListAttemptsByMessage");

        api.MapGet("/apps/{appId}/endpoints/{endpointId}/attempts", async (string appId, string endpointId, HttpContext context, AttemptService service, CancellationToken ct) =>
            TypedResults.Ok(await service.ByEndpointAsync(context.Caller(), appId, endpointId, PageRequest.From(context.Request), ct)))
            .WithTags("Attempts").WithPaging().WithName("ListAttemptsByEndpoint");

        return api;
    }
}
