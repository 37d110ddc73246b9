using Grpc.Core;
using Herald.ApiService.Telemetry;

namespace Herald.ApiService.Grpc;

/// <summary>Records every gRPC call in <c>herald.grpc.server.duration</c> by method and status.</summary>
internal sealed class CallMetricsInterceptor(ApiMetrics metrics) : CallObserver
{
    protected override void Observe(ServerCallContext context, StatusCode status, TimeSpan duration) =>
        metrics.GrpcCall(context.Method, status, duration);
}
