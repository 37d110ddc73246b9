using System.Diagnostics;
using Grpc.Core;
using Grpc.Core.Interceptors;

namespace Herald.ApiService.Grpc;

/// <summary>
/// Base of the interceptors that watch calls without changing them: each learns a call's final status and duration
/// once, for every kind of call (streams included, timed over the whole stream). Registered outside
/// <see cref="ApiErrorInterceptor"/>, so the status seen is the one the client gets.
/// </summary>
internal abstract class CallObserver : Interceptor
{
    protected abstract void Observe(ServerCallContext context, StatusCode status, TimeSpan duration);

    public override async Task<TResponse> UnaryServerHandler<TRequest, TResponse>(
        TRequest request, ServerCallContext context, UnaryServerMethod<TRequest, TResponse> continuation)
    {
        var started = Stopwatch.GetTimestamp();
        try
        {
            var response = await continuation(request, context);
            Observe(context, context.Status.StatusCode, Stopwatch.GetElapsedTime(started));
            return response;
        }
        catch (Exception exception)
        {
            Observe(context, StatusOf(exception, context), Stopwatch.GetElapsedTime(started));
            throw;
        }
    }

    public override Task ServerStreamingServerHandler<TRequest, TResponse>(
        TRequest request, IServerStreamWriter<TResponse> responseStream, ServerCallContext context, ServerStreamingServerMethod<TRequest, TResponse> continuation) =>
        ObserveAsync(context, () => continuation(request, responseStream, context));

    public override async Task<TResponse> ClientStreamingServerHandler<TRequest, TResponse>(
        IAsyncStreamReader<TRequest> requestStream, ServerCallContext context, ClientStreamingServerMethod<TRequest, TResponse> continuation)
    {
        TResponse response = default!;
        await ObserveAsync(context, async () => response = await continuation(requestStream, context));
        return response;
    }

    public override Task DuplexStreamingServerHandler<TRequest, TResponse>(
        IAsyncStreamReader<TRequest> requestStream, IServerStreamWriter<TResponse> responseStream, ServerCallContext context, DuplexStreamingServerMethod<TRequest, TResponse> continuation) =>
        ObserveAsync(context, () => continuation(requestStream, responseStream, context));

    private async Task ObserveAsync(ServerCallContext context, Func<Task> call)
    {
        var started = Stopwatch.GetTimestamp();
        try
        {
            await call();
            Observe(context, context.Status.StatusCode, Stopwatch.GetElapsedTime(started));
        }
        catch (Exception exception)
        {
            Observe(context, StatusOf(exception, context), Stopwatch.GetElapsedTime(started));
            throw;
        }
    }

    /// <summary>The status gRPC answers for an exception that leaves the handler.</summary>
    private static StatusCode StatusOf(Exception exception, ServerCallContext context) => exception switch
    {
        RpcException rpc => rpc.StatusCode,
        OperationCanceledException when context.CancellationToken.IsCancellationRequested => StatusCode.Cancelled,
        _ => StatusCode.Unknown,
    };
}
