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
        AddProblems(document);
        return Task.CompletedTask;
    });

    public const string ProblemSchema = "ProblemDetails";

    /// <summary>
    /// Every operation's errors: RFC 9457 problem details (<see cref="Problems.ProblemResponses"/>), which generated clients
    /// then raise as a typed exception carrying the title and each field's messages rather than a bare status code.
    /// </summary>
    private static void AddProblems(OpenApiDocument document)
    {
        document.Components!.Schemas ??= new Dictionary<string, IOpenApiSchema>();
        document.Components.Schemas[ProblemSchema] = new OpenApiSchema
        {
            Type = JsonSchemaType.Object,
            Description = "An error (RFC 9457). `errors` names each invalid field and what is wrong with it.",
            Properties = new Dictionary<string, IOpenApiSchema>
            {
                ["type"] = new OpenApiSchema { Type = JsonSchemaType.String },
                ["title"] = new OpenApiSchema { Type = JsonSchemaType.String },
                ["status"] = new OpenApiSchema { Type = JsonSchemaType.Integer, Format = "int32" },
                ["detail"] = new OpenApiSchema { Type = JsonSchemaType.String },
                ["instance"] = new OpenApiSchema { Type = JsonSchemaType.String },
                ["errors"] = new OpenApiSchema
                {
                    Type = JsonSchemaType.Object,
                    AdditionalProperties = new OpenApiSchema { Type = JsonSchemaType.Array, Items = new OpenApiSchema { Type = JsonSchemaType.String } },
                },
            },
        };
        foreach (var operation in (document.Paths ?? []).Values.SelectMany(path => path.Operations?.Values.AsEnumerable() ?? []))
        {
            operation.Responses ??= [];
            foreach (var (range, description) in new[] { ("4XX", "The request was refused: see the problem's title and errors."), ("5XX", "Herald could not serve the request (503: retry after Retry-After).") })
            {
                operation.Responses.TryAdd(range, new OpenApiResponse
                {
                    Description = description,
                    Content = new Dictionary<string, OpenApiMediaType>
                    {
                        ["application/problem+json"] = new() { Schema = new OpenApiSchemaReference(ProblemSchema, document) },
                    },
                });
            }
        }
    }

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
