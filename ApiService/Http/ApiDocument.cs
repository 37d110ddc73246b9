using Microsoft.AspNetCore.OpenApi;
using Microsoft.OpenApi;

namespace Herald.ApiService.Http;

/// <summary>
/// The OpenAPI document's parts that route handlers do not declare: the bearer scheme every route requires, and the
/// query parameters handlers read themselves (paging, filters) so that their errors are the API's own 400s.
/// </summary>
public static class ApiDocument
{
    public const string BearerScheme = "bearer";

    public static OpenApiOptions AddHeraldDocument(this OpenApiOptions options) => options.AddDocumentTransformer((document, _, _) =>
    {
        document.Info.Title = "Herald API";
        document.Info.Description = "Webhook delivery: applications, endpoints, event types, messages, attempts and deliveries. " +
            "Authenticate with an API key: Authorization: Bearer <key>.";
        // Where the API lives is the caller's business; the document is the same wherever it is served.
        document.Servers?.Clear();
        document.Components ??= new OpenApiComponents();
        document.Components.SecuritySchemes ??= new Dictionary<string, IOpenApiSecurityScheme>();
        document.Components.SecuritySchemes[BearerScheme] = new OpenApiSecurityScheme
        {
            Type = SecuritySchemeType.Http,
            Scheme = "bearer",
            Description = "An API key: an application's (hk_app_…) or an admin key (hk_admin_…).",
        };
        document.Security = [new OpenApiSecurityRequirement { [new OpenApiSecuritySchemeReference(BearerScheme, document)] = [] }];
        return Task.CompletedTask;
    });

    /// <summary>Documents <c>?limit=</c> and <c>?iterator=</c> (<see cref="PageRequest"/>).</summary>
    public static RouteHandlerBuilder WithPaging(this RouteHandlerBuilder route) => route
        .WithQuery("limit", JsonSchemaType.Integer, $"Items per page: 1 to {PageRequest.MaxLimit}, default {PageRequest.DefaultLimit}.")
        .WithQuery("iterator", JsonSchemaType.String, "The previous page's iterator, for the next page.");

    /// <summary>Documents the message list's filters (<see cref="Messages.MessageFilter"/>).</summary>
    public static RouteHandlerBuilder WithMessageFilter(this RouteHandlerBuilder route) => route
        .WithQuery("eventType", JsonSchemaType.String, "Only these event types (repeat the parameter for several).", repeated: true)
        .WithQuery("before", JsonSchemaType.String, "Only messages created before this time (ISO 8601).", "date-time")
        .WithQuery("after", JsonSchemaType.String, "Only messages created after this time (ISO 8601).", "date-time")
        .WithQuery("status", JsonSchemaType.String, "Only messages with a delivery in this state: pending, succeeded, failed or paused.");

    public static RouteHandlerBuilder WithQuery(this RouteHandlerBuilder route, string name, JsonSchemaType type, string description,
        string? format = null, bool repeated = false) =>
        route.AddOpenApiOperationTransformer((operation, _, _) =>
        {
            operation.Parameters ??= [];
            var schema = new OpenApiSchema { Type = type, Format = format };
            operation.Parameters.Add(new OpenApiParameter
            {
                Name = name,
                In = ParameterLocation.Query,
                Description = description,
                Schema = repeated ? new OpenApiSchema { Type = JsonSchemaType.Array, Items = schema } : schema,
            });
            return Task.CompletedTask;
        });
}
