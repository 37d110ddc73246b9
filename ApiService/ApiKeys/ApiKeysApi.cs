using Herald.ApiService.Auth;
using Herald.ApiService.Http;

namespace Herald.ApiService.ApiKeys;

public static class ApiKeysApi
{
    /// <summary>Admin keys at <c>/api-keys</c>; application keys at <c>/apps/{appId}/api-keys</c>.</summary>
    public static RouteGroupBuilder MapApiKeys(this RouteGroupBuilder api)
    {
        Map(api.MapGroup("/api-keys").WithTags("API keys"), applicationId: _ => null, "AdminApiKey");
        Map(api.MapGroup("/apps/{appId}/api-keys").WithTags("API keys"), applicationId: context => (string)context.Request.RouteValues["appId"]!, "ApiKey");
        return api;
    }

    private static void Map(RouteGroupBuilder keys, Func<HttpContext, string?> applicationId, string name)
    {
        keys.MapPost("/", async (HttpContext context, ApiKeyService service, CancellationToken ct) =>
        {
            var created = await service.CreateAsync(context.Caller(), applicationId(context), await context.Request.ReadJsonAsync<ApiKeyInput>(ct), ct);
            return TypedResults.Created($"{context.Request.Path.Value!.TrimEnd('/')}/{created.Id}", created);
        }).Accepts<ApiKeyInput>("application/json").WithName($"Create{name}");

        keys.MapGet("/", async (HttpContext context, ApiKeyService service, CancellationToken ct) =>
            TypedResults.Ok(await service.ListAsync(context.Caller(), applicationId(context), PageRequest.From(context.Request), ct)))
            .WithPaging().WithName($"List{name}s");

        keys.MapDelete("/{keyId}", async (string keyId, HttpContext context, ApiKeyService service, CancellationToken ct) =>
        {
            await service.RevokeAsync(context.Caller(), applicationId(context), keyId, ct);
            return TypedResults.NoContent();
        }).WithName($"Revoke{name}");
    }
}
