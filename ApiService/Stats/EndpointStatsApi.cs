using Herald.ApiService.Auth;
using Herald.ApiService.Http;
using Herald.ApiService.Messages;
using Microsoft.OpenApi;

namespace Herald.ApiService.Stats;

public static class EndpointStatsApi
{
    public static RouteGroupBuilder MapEndpointStats(this RouteGroupBuilder api)
    {
        api.MapGet("/apps/{appId}/endpoints/{endpointId}/stats", async (string appId, string endpointId, HttpContext context, EndpointStatsService service, CancellationToken ct) =>
            TypedResults.Ok(await service.GetAsync(context.Caller(), appId, endpointId,
                MessageFilter.ParseTime("since", context.Request.Query["since"].ToString()),
                MessageFilter.ParseTime("until", context.Request.Query["until"].ToString()), ct)))
            .WithTags("Endpoints").WithName("GetEndpointStats")
            .WithQuery("since", JsonSchemaType.String, "The window's start (ISO 8601, inclusive, to the millisecond); default: 24 hours before 'until', and at most 31 days before it.", "date-time")
            .WithQuery("until", JsonSchemaType.String, "The window's end (ISO 8601, exclusive, to the millisecond); default: now.", "date-time");
        return api;
    }
}
