using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Herald.ApiService.Auth;
using Herald.ApiService.Telemetry;
using Microsoft.AspNetCore.Http.Json;
using Microsoft.Extensions.Options;

namespace Herald.ApiService.Idempotency;

/// <summary>
/// Honours an <c>idempotency-key</c> header on POST: the first successful response is kept and returned for
/// identical repeats within 24 h (one that carries a secret is not kept: repeats get 409); the same key with a different
/// request is 422. Both refusals carry <c>Location</c> when the first request created something. Failures are not kept, so a retry
/// after a 4xx or 5xx runs again. A request with a key runs to its end even if the client leaves, so the client's retry
/// finds its outcome instead of doing it a second time.
/// </summary>
internal sealed class IdempotencyFilter(IdempotencyStore store, IOptions<JsonOptions> json, ApiMetrics metrics) : IEndpointFilter
{
    public async ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        var http = context.HttpContext;
        if (!HttpMethods.IsPost(http.Request.Method) || http.Request.Headers[IdempotencyStore.Header].ToString() is not { Length: > 0 } key)
            return await next(context);

        var scope = http.Caller().Scope;
        if (await store.ClaimAsync(scope, key, await HashRequestAsync(http.Request), http.RequestAborted) is { } replay)
        {
            metrics.IdempotentReplay("rest");
            http.Response.Headers["idempotent-replayed"] = "true";
            if (replay.Location is not null) http.Response.Headers.Location = replay.Location;
            return Results.Text(replay.Response, "application/json", Encoding.UTF8, replay.StatusCode);
        }

        IdempotencyKeys.Set(http, IdempotencyStore.Scoped(scope, key));
        RunToTheEnd(context);
        object? result;
        try
        {
            result = await next(context);
        }
        catch
        {
            await store.AbandonAsync(scope, key);
            throw;
        }

        if (result is IStatusCodeHttpResult { StatusCode: >= 200 and < 300 } success and IValueHttpResult { Value: { } value })
        {
            // Created<T> and Accepted<T> carry Location as a property; ASP.NET Core has no interface for it.
            var location = result.GetType().GetProperty("Location")?.GetValue(result) as string;
            await store.CompleteAsync(scope, key, success.StatusCode ?? 200, location,
                value is ICarriesSecret { CarriesSecret: true } ? null : JsonSerializer.Serialize(value, value.GetType(), json.Value.SerializerOptions),
                CancellationToken.None);
        }
        else
        {
            await store.AbandonAsync(scope, key);
        }
        return result;
    }

    /// <summary>From here on the handler is not cancelled by the client leaving (its dependencies' own timeouts bound it).</summary>
    private static void RunToTheEnd(EndpointFilterInvocationContext context)
    {
        context.HttpContext.RequestAborted = CancellationToken.None;
        // Handlers took their CancellationToken parameter before the filters ran.
        for (var i = 0; i < context.Arguments.Count; i++)
        {
            if (context.Arguments[i] is CancellationToken) context.Arguments[i] = CancellationToken.None;
        }
    }

    // The same key must come with the same request: method, path and body.
    private static async Task<byte[]> HashRequestAsync(HttpRequest request)
    {
        request.EnableBuffering();
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        hash.AppendData(Encoding.UTF8.GetBytes($"{request.Method} {request.Path}\n"));
        var buffer = new byte[16 * 1024];
        int read;
        while ((read = await request.Body.ReadAsync(buffer, request.HttpContext.RequestAborted)) > 0) hash.AppendData(buffer, 0, read);
        request.Body.Position = 0;
        return hash.GetHashAndReset();
    }
}
