using System.Reflection;
using System.Security.Cryptography;
using System.Text;
using Google.Protobuf;
using Grpc.Core;
using Grpc.Core.Interceptors;
using Herald.ApiService.Grpc;
using Herald.ApiService.Telemetry;

namespace Herald.ApiService.Idempotency;

/// <summary>The gRPC side of <see cref="IdempotencyFilter"/>: an <c>idempotency-key</c> metadata entry on a call that
/// changes something (not Get*/List*) makes it safe to retry; the response kept is the protobuf message.</summary>
internal sealed class IdempotencyInterceptor(IdempotencyStore store, ApiMetrics metrics) : Interceptor
{
    public override async Task<TResponse> UnaryServerHandler<TRequest, TResponse>(
        TRequest request, ServerCallContext context, UnaryServerMethod<TRequest, TResponse> continuation)
    {
        var key = context.RequestHeaders.GetValue(IdempotencyStore.Header);
        var method = context.Method[(context.Method.LastIndexOf('/') + 1)..];
        if (string.IsNullOrEmpty(key) || method.StartsWith("Get", StringComparison.Ordinal) || method.StartsWith("List", StringComparison.Ordinal)
            || request is not IMessage message)
        {
            return await continuation(request, context);
        }

        // Kept apart from REST keys: the two surfaces describe the same request in different bytes.
        var scope = context.Caller().Scope + ":grpc";
        var hash = SHA256.HashData([.. Encoding.UTF8.GetBytes(context.Method + "\n"), .. message.ToByteArray()]);
        if (await store.ClaimAsync(scope, key, hash, context.CancellationToken) is { } replay)
        {
            metrics.IdempotentReplay("grpc");
            return (TResponse)Parser<TResponse>().ParseFrom(Convert.FromBase64String(replay.Response));
        }

        IdempotencyKeys.Set(context, IdempotencyStore.Scoped(scope, key));
        TResponse response;
        try
        {
            response = await continuation(request, context);
        }
        catch
        {
            await store.AbandonAsync(scope, key);
            throw;
        }
        await store.CompleteAsync(scope, key, StatusCodes.Status200OK, location: null,
            response is ICarriesSecret { CarriesSecret: true } ? null : Convert.ToBase64String(((IMessage)response).ToByteArray()),
            CancellationToken.None);
        return response;
    }

    // Every generated message type has a static Parser property.
    private static MessageParser Parser<T>() =>
        (MessageParser)typeof(T).GetProperty("Parser", BindingFlags.Public | BindingFlags.Static)!.GetValue(null)!;
}
