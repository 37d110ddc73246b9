using System.Diagnostics;
using Herald.Processor.Delivery.Ssrf;
using Herald.Processor.Operations;
using Herald.ServiceDefaults.Redis;
using Microsoft.Extensions.Options;

namespace Herald.Processor.Delivery;

public static class DeliveryHosting
{
    /// <summary>Tasks → attempts: the worker and everything it asks (endpoints, breaker, rate limits, lanes, claims, the
    /// sender through the SSRF guard, the ledger), and the publisher of tasks the fan-out and the scheduler share.</summary>
    public static void AddWebhookDelivery(this IHostApplicationBuilder builder)
    {
        builder.Services.Configure<DeliveryOptions>(builder.Configuration.GetSection(DeliveryOptions.Section));
        builder.Services.AddSingleton(TimeProvider.System);
        builder.Services.AddOptions<DeliveryOptions>()
            .Validate(o => RetrySchedule.Parse(o.Schedule) is [var first, ..] && first == TimeSpan.Zero,
                "Herald:Delivery:Schedule must list at least one delay, and the first attempt is immediate (0s).")
            .ValidateOnStart();
        builder.Services.AddSingleton<RetrySchedule>();
        builder.Services.AddSingleton<EndpointDirectory>();
        builder.Services.AddSingleton<EndpointGate>();
        builder.Services.AddSingleton<RateLimitLeases>();
        builder.Services.AddSingleton<DeliveryLanes>();
        builder.Services.AddSingleton<DeliveryClaims>();
        builder.Services.AddSingleton<DeliveryLedger>();
        builder.Services.AddSingleton<DeliveryAdmission>();
        builder.Services.AddSingleton<OutcomePublisher>();
        builder.Services.AddSingleton<EndpointHealth>();
        builder.Services.AddSingleton<Fifo.FifoLines>();
        builder.Services.AddSingleton<DeliveryWorker>();
        builder.Services.Configure<OperationalWebhookOptions>(builder.Configuration.GetSection(OperationalWebhookOptions.Section));
        builder.Services.AddSingleton<FailingEndpoints>();
        builder.Services.AddSingleton<DeliveryTaskPublisher>();
        builder.Services.AddDestinationGuard();
        // Not a client from IHttpClientFactory: the service defaults add service discovery (which would resolve a
        // customer's URL against Herald's own services), a resilience pipeline (retries hidden from Herald's schedule)
        // and logging scopes per request. A webhook needs none of them; tracing and metrics come with HttpClient itself.
        builder.Services.AddSingleton(services =>
        {
            var options = services.GetRequiredService<IOptions<DeliveryOptions>>();
            return new WebhookSender(
                new HttpClient(CreateHandler(services.GetRequiredService<DestinationConnector>(), options.Value))
                {
                    // The attempt's own timeout (Herald:Delivery:RequestTimeout) is the only one.
                    Timeout = Timeout.InfiniteTimeSpan,
                },
                options,
                services.GetRequiredService<TimeProvider>());
        });
    }

    /// <summary>The connection handler every webhook goes through.</summary>
    public static SocketsHttpHandler CreateHandler(DestinationConnector connector, DeliveryOptions options) => new()
    {
        // A 3xx is the receiver's answer, not an instruction: following it could lead anywhere.
        AllowAutoRedirect = false,
        PooledConnectionLifetime = TimeSpan.FromMinutes(2),
        // Every connection goes through the SSRF guard: only vetted addresses are dialled.
        ConnectCallback = connector.ConnectAsync,
        // A proxy would resolve and dial the endpoint itself, past the guard.
        UseProxy = false,
        // The request's span is recorded either way; only what is written into the request changes.
        ActivityHeadersPropagator = options.PropagateTraceContext
            ? DistributedContextPropagator.Current
            : DistributedContextPropagator.CreateNoOutputPropagator(),
    };
}
