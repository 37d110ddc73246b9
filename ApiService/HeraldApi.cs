using Herald.ApiService.ApiKeys;
using Herald.ApiService.Applications;
using Herald.ApiService.Attempts;
using Herald.ApiService.Endpoints;
using Herald.ApiService.EventTypes;
using Herald.ApiService.Idempotency;
using Herald.ApiService.Messages;
using Herald.ApiService.Problems;
using Herald.ApiService.RateLimiting;
using Herald.ApiService.Retention;

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

        // Every body is small except a message's; cap them all at what the largest message needs.
        var messages = configuration.GetSection(MessageOptions.Section).Get<MessageOptions>() ?? new MessageOptions();
        builder.Services.Configure<Microsoft.AspNetCore.Server.Kestrel.Core.KestrelServerOptions>(kestrel =>
            kestrel.Limits.MaxRequestBodySize = messages.MaxPayloadBytes + 16 * 1024);

        builder.Services.AddProblemDetails();
        builder.Services.AddExceptionHandler<ApiErrorHandler>();
        builder.Services.AddOpenApi();
        builder.Services.AddSingleton(TimeProvider.System);

        builder.Services.AddSingleton<ApplicationService>();
        builder.Services.AddSingleton<ApplicationSettings>();
        builder.Services.AddSingleton<ApiKeyService>();
        builder.Services.AddSingleton<EventTypeService>();
        builder.Services.AddSingleton<EndpointService>();
        builder.Services.AddSingleton<MessageService>();
        builder.Services.AddSingleton<MessageIngest>();
        builder.Services.AddSingleton<MessagePublisher>();
        builder.Services.AddSingleton<AttemptService>();
        builder.Services.AddSingleton<IdempotencyStore>();

        builder.Services.AddHostedService<OutboxRelay>();
        builder.Services.AddHostedService<RetentionService>();
    }
}
