using System.Diagnostics;
using Grpc.Core;
using Grpc.Core.Interceptors;
using Herald.ApiService.Problems;

namespace Herald.ApiService.Grpc;

/// <summary>Turns the application layer's <see cref="ApiError"/> into the matching gRPC status, with the failing
/// fields in the message; nothing internal is ever sent. Any other exception is logged here and answered INTERNAL
/// with only a trace id to quote (gRPC would say UNKNOWN, and with EnableDetailedErrors would send the exception).</summary>
internal sealed class ApiErrorInterceptor(ILogger<ApiErrorInterceptor> logger) : Interceptor
{
    public override async Task<TResponse> UnaryServerHandler<TRequest, TResponse>(
        TRequest request, ServerCallContext context, UnaryServerMethod<TRequest, TResponse> continuation)
    {
        try
        {
            return await continuation(request, context);
        }
        catch (Exception exception) when (ApiErrors.From(exception) is { } error)
        {
            throw error.ToRpcException();
        }
        catch (Exception exception) when (IsUnexpected(exception, context))
        {
            throw Internal(exception, context);
        }
    }

    public override async Task ServerStreamingServerHandler<TRequest, TResponse>(
        TRequest request, IServerStreamWriter<TResponse> responseStream, ServerCallContext context, ServerStreamingServerMethod<TRequest, TResponse> continuation)
    {
        try
        {
            await continuation(request, responseStream, context);
        }
        catch (Exception exception) when (ApiErrors.From(exception) is { } error)
        {
            throw error.ToRpcException();
        }
        catch (Exception exception) when (IsUnexpected(exception, context))
        {
            throw Internal(exception, context);
        }
    }

    // RpcExceptions are already statuses; a cancelled call has nothing left to answer.
    private static bool IsUnexpected(Exception exception, ServerCallContext context) =>
        exception is not RpcException && !(exception is OperationCanceledException && context.CancellationToken.IsCancellationRequested);

    private RpcException Internal(Exception exception, ServerCallContext context)
    {
        logger.LogError(exception, "gRPC {GrpcMethod} failed unexpectedly", context.Method);
        return new RpcException(new Status(StatusCode.Internal, $"An internal error occurred (trace id {Activity.Current?.TraceId.ToHexString() ?? "none"})."));
    }
}

public static class GrpcStatuses
{
    public static StatusCode ToGrpcStatus(this ApiErrorKind kind) => kind switch
    {
        ApiErrorKind.Validation => StatusCode.InvalidArgument,
        ApiErrorKind.Unauthenticated => StatusCode.Unauthenticated,
        ApiErrorKind.Forbidden => StatusCode.PermissionDenied,
        ApiErrorKind.NotFound => StatusCode.NotFound,
        ApiErrorKind.Conflict => StatusCode.AlreadyExists,
        ApiErrorKind.Unprocessable or ApiErrorKind.WrongState => StatusCode.FailedPrecondition,
        ApiErrorKind.PayloadTooLarge => StatusCode.ResourceExhausted,
        ApiErrorKind.RateLimited => StatusCode.ResourceExhausted,
        ApiErrorKind.Unavailable => StatusCode.Unavailable,
        _ => StatusCode.InvalidArgument,
    };

    /// <summary>"The request is not valid. eventType: …; payload: …"</summary>
    public static string Describe(this ApiError error) => error.Errors.Count == 0
        ? error.Title
        : $"{error.Title} {string.Join("; ", error.Errors.Select(e => $"{e.Key}: {string.Join(" ", e.Value)}"))}";

    public static RpcException ToRpcException(this ApiError error)
    {
        var trailers = new Metadata();
        if (error.RetryAfter is { } retryAfter)
            trailers.Add("retry-after", Math.Max(1, (int)Math.Ceiling(retryAfter.TotalSeconds)).ToString(System.Globalization.CultureInfo.InvariantCulture));
        return new RpcException(new Status(error.Kind.ToGrpcStatus(), error.Describe()), trailers);
    }
}
