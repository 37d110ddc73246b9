using Grpc.Core;
using Herald.ApiService.Auth;

namespace Herald.ApiService.Grpc;

/// <summary>One structured log entry per gRPC call: method, status, duration and who called (application and key
/// id — never the key, the request or the response).</summary>
internal sealed partial class CallLoggingInterceptor(ILogger<CallLoggingInterceptor> logger) : CallObserver
{
    protected override void Observe(ServerCallContext context, StatusCode status, TimeSpan duration)
    {
        var caller = Caller.From(context.GetHttpContext().User);
        // The server's own failures stand out; a client's mistakes are routine.
        var level = status is StatusCode.Internal or StatusCode.Unknown or StatusCode.DataLoss or StatusCode.Unavailable
            ? LogLevel.Warning
            : LogLevel.Information;
        Log(logger, level, context.Method, status, duration.TotalMilliseconds, caller?.ApplicationId ?? (caller is null ? null : "admin"), caller?.KeyId);
    }

    [LoggerMessage("gRPC {GrpcMethod} answered {GrpcStatus} in {DurationMs:0.0} ms (application {ApplicationId}, key {ApiKeyId})")]
    private static partial void Log(ILogger logger, LogLevel level, string grpcMethod, StatusCode grpcStatus, double durationMs, string? applicationId, string? apiKeyId);
}
