using Herald.ApiService.ApiKeys;
using Herald.ApiService.Applications;
using Herald.ApiService.Deliveries;
using Herald.ApiService.Endpoints;
using Herald.ApiService.EventTypes;
using Herald.ApiService.Idempotency;
using Herald.ApiService.Messages;
using Herald.ApiService.Operations;
using Herald.ServiceDefaults.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;

namespace Herald.ApiService.Grpc;

public static class GrpcHosting
{
    /// <summary>The port gRPC is served on (cleartext HTTP/2).</summary>
    public const string PortSetting = "GRPC_PORT";

    /// <summary>
    /// gRPC over cleartext needs HTTP/2 with prior knowledge, which a port that also speaks HTTP/1.1 cannot offer;
    /// so REST keeps the URLs ASP.NET is given and gRPC gets a port of its own when <see cref="PortSetting"/> is set.
    /// </summary>
    public static void AddHeraldGrpc(this WebApplicationBuilder builder)
    {
        var messages = builder.Configuration.GetSection(MessageOptions.Section).Get<MessageOptions>() ?? new MessageOptions();
        builder.Services.AddGrpc(grpc =>
        {
            // The same cap as REST: room for a maximum payload and its envelope; beyond it, RESOURCE_EXHAUSTED.
            grpc.MaxReceiveMessageSize = messages.MaxPayloadBytes + MessageOptions.EnvelopeAllowance;
            // Every interceptor of the API, outermost first. Authentication is not among them: ASP.NET Core's
            // authentication and the services' RequireAuthorization (MapHeraldGrpc) refuse a call without a valid key
            // before any interceptor or handler runs, for unary calls and streams alike.
            // 1. Logging and 2. metrics see the status the client gets, so they wrap the error mapping.
            grpc.Interceptors.Add<CallLoggingInterceptor>();
            grpc.Interceptors.Add<CallMetricsInterceptor>();
            // 3. Errors become statuses (nothing internal leaks), including those of the idempotency check.
            grpc.Interceptors.Add<ApiErrorInterceptor>();
            // 4. Idempotency next to the handler: a replay skips only the handler, and is still logged and measured.
            grpc.Interceptors.Add<IdempotencyInterceptor>();
        });
        builder.Services.AddGrpcReflection();
        // grpc.health.v1 answers from the same checks as /readyz.
        builder.Services.AddGrpcHealthChecks();

        if (builder.Configuration.GetValue<int?>(PortSetting) is { } grpcPort) builder.AddServicePort(grpcPort, HttpProtocols.Http2);
    }

    public static void MapHeraldGrpc(this WebApplication app)
    {
        app.MapGrpcService<ApplicationsGrpcService>().RequireAuthorization();
        app.MapGrpcService<ApiKeysGrpcService>().RequireAuthorization();
        app.MapGrpcService<EventTypesGrpcService>().RequireAuthorization();
        app.MapGrpcService<EndpointsGrpcService>().RequireAuthorization();
        app.MapGrpcService<MessagesGrpcService>().RequireAuthorization();
        app.MapGrpcService<DeliveriesGrpcService>().RequireAuthorization();
        app.MapGrpcService<Portal.PortalAccessGrpcService>().RequireAuthorization();
        app.MapGrpcService<OperationalWebhooksGrpcService>().RequireAuthorization();
        app.MapGrpcReflectionService();
        app.MapGrpcHealthChecksService();
    }
}
