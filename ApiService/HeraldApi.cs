using Herald.ApiService.ApiKeys;
using Herald.ApiService.Applications;
using Herald.ApiService.Attempts;
using Herald.ApiService.Stats;
using Herald.ApiService.Deliveries;
using Herald.ApiService.Endpoints;
using Herald.ApiService.EventTypes;
using Herald.ApiService.Http;
using Herald.ApiService.Idempotency;
using Herald.ApiService.Messages;
using Herald.ApiService.Operations;
using Herald.ApiService.Problems;
using Herald.ApiService.RateLimiting;
using Herald.ApiService.Retention;
using Herald.ApiService.Telemetry;
using Herald.ServiceDefaults.Redis;

namespace Herald.ApiService;

public static class HeraldApi
{
    /// <summary>The application layer both surfaces (REST and gRPC) call, and its settings.</summary>
    public static void AddHeraldApi(this IHostApplicationBuilder builder)
    {
        var configuration = builder.Configuration;
        builder.Services.Configure<MessageOptions>(configuration.GetSection(MessageOptions.Section));
        builder.Services.Configure<EndpointOptions>(configuration.GetSection(EndpointOptions.Section));
        builder.Services.Configure<RateLimitOptions>(configuration.GetSection(RateLimitOptions.Section));
        builder.Services.Configure<QuotaOptions>(configuration.GetSection(QuotaOptions.Section));

        builder.Services.AddProblemDetails();
        builder.Services.AddExceptionHandler<ApiErrorHandler>();
        // Served in every environment and committed as clients/herald-api.v1.json (a test keeps the two equal).
        builder.Services.AddOpenApi(options => options.AddHeraldDocument());
        builder.Services.AddSingleton(TimeProvider.System);

        builder.Services.AddSingleton<ApplicationService>();
        builder.Services.AddSingleton<ApplicationCache>();
        builder.Services.AddSingleton<ApplicationQuotas>();
        builder.Services.AddSingleton<ApiKeyService>();
        builder.Services.AddSingleton<EventTypeService>();
        builder.Services.AddSingleton<EventSchemaCache>();
        builder.Services.AddSingleton<EndpointService>();
        builder.Services.AddSingleton<MessageService>();
        builder.Services.AddSingleton<MessageIngest>();
        builder.Services.AddSingleton<MessagePublisher>();
        builder.Services.AddSingleton<AttemptService>();
        builder.Services.AddSingleton<EndpointStatsService>();
        builder.Services.AddSingleton<DeliveryService>();
        builder.Services.AddSingleton<DeliveryFeed>();
        builder.Services.AddSingleton<OperationalWebhookService>();
        builder.Services.AddSingleton<IdempotencyStore>();
        builder.Services.AddSingleton<RateLimitLeases>();
        builder.Services.AddSingleton<ApiMetrics>();

        builder.Services.AddHostedService<OutboxRelay>();
        builder.Services.AddHostedService<SecretResealer>();
        builder.Services.AddHostedService<RetentionService>();
        builder.Services.AddHostedService<OutboxBacklog>();
    }

    /// <summary>Every REST body is small except a message's: cap them all at what the largest message needs, so an
    /// oversized body is refused while it is read (413) rather than buffered. gRPC enforces the same cap itself
    /// (MaxReceiveMessageSize), answering RESOURCE_EXHAUSTED.</summary>
    public static void UseRequestBodyLimit(this WebApplication app)
    {
        var messages = app.Services.GetRequiredService<Microsoft.Extensions.Options.IOptions<MessageOptions>>().Value;
        app.Use((context, next) =>
        {
            if (!ProblemResponses.IsGrpc(context)
                && context.Features.Get<Microsoft.AspNetCore.Http.Features.IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit)
            {
                limit.MaxRequestBodySize = messages.MaxPayloadBytes + MessageOptions.EnvelopeAllowance;
            }
            return next(context);
        });
    }
}
