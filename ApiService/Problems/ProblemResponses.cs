using System.Globalization;
using Microsoft.AspNetCore.Diagnostics;
using Herald.ApiService.Grpc;
using Microsoft.AspNetCore.Mvc;

namespace Herald.ApiService.Problems;

public static class ProblemResponses
{
    /// <summary>Whether the request is a gRPC call: decided by the route it matched (a client's content-type cannot make
    /// a REST call one), and by its content-type only when it matched none.</summary>
    public static bool IsGrpc(HttpContext context) => context.GetEndpoint() is { } endpoint
        ? endpoint.Metadata.GetMetadata<global::Grpc.AspNetCore.Server.GrpcMethodMetadata>() is not null
        : context.Request.ContentType?.StartsWith("application/grpc", StringComparison.Ordinal) == true;

    public static int StatusCode(this ApiErrorKind kind) => kind switch
    {
        ApiErrorKind.Validation => StatusCodes.Status400BadRequest,
        ApiErrorKind.Unauthenticated => StatusCodes.Status401Unauthorized,
        ApiErrorKind.Forbidden => StatusCodes.Status403Forbidden,
        ApiErrorKind.NotFound => StatusCodes.Status404NotFound,
        ApiErrorKind.Conflict or ApiErrorKind.WrongState => StatusCodes.Status409Conflict,
        ApiErrorKind.Unprocessable => StatusCodes.Status422UnprocessableEntity,
        ApiErrorKind.PayloadTooLarge => StatusCodes.Status413PayloadTooLarge,
        ApiErrorKind.RateLimited => StatusCodes.Status429TooManyRequests,
        ApiErrorKind.Unavailable => StatusCodes.Status503ServiceUnavailable,
        _ => StatusCodes.Status400BadRequest,
    };

    public static async Task WriteAsync(HttpContext context, ApiError error)
    {
        if (IsGrpc(context))
        {
            // A trailers-only gRPC response: the status travels in headers, and HTTP stays 200 as gRPC requires.
            context.Response.StatusCode = StatusCodes.Status200OK;
            context.Response.ContentType = "application/grpc";
            context.Response.Headers["grpc-status"] = ((int)error.Kind.ToGrpcStatus()).ToString(CultureInfo.InvariantCulture);
            context.Response.Headers["grpc-message"] = Uri.EscapeDataString(error.Describe());
            return;
        }
        var status = error.Kind.StatusCode();
        context.Response.StatusCode = status;
        if (error.RetryAfter is { } retryAfter)
        {
            context.Response.Headers.RetryAfter = Math.Max(1, (int)Math.Ceiling(retryAfter.TotalSeconds)).ToString(CultureInfo.InvariantCulture);
        }
        if (error.Location is { } location) context.Response.Headers.Location = location;
        var problem = error.Errors.Count > 0
            ? new ValidationProblemDetails(error.Errors.ToDictionary(e => e.Key, e => e.Value)) { Title = error.Title, Status = status }
            : new ProblemDetails { Title = error.Title, Status = status };
        if (!await context.RequestServices.GetRequiredService<IProblemDetailsService>()
                .TryWriteAsync(new ProblemDetailsContext { HttpContext = context, ProblemDetails = problem }))
        {
            // The default writer declines when Accept rules JSON out (an EventSource asks for text/event-stream only);
            // the client still gets its 4xx, with the problem as JSON, rather than a 500 from the error handler.
            await context.Response.WriteAsJsonAsync(problem, problem.GetType(), options: null, contentType: "application/problem+json");
        }
    }
}

/// <summary>Which exceptions are client-visible errors, and as what. Shared by REST and gRPC.</summary>
public static class ApiErrors
{
    public static ApiError? From(Exception exception) => exception switch
    {
        ApiError api => api,
        // Kestrel's own limits (body too large, malformed request) surface as BadHttpRequestException.
        BadHttpRequestException { StatusCode: StatusCodes.Status413PayloadTooLarge } =>
            new ApiError(ApiErrorKind.PayloadTooLarge, "The request body is too large."),
        BadHttpRequestException bad => new ApiError(ApiErrorKind.Validation, bad.Message),
        // A dependency outage is not the client's fault, and not a bug: 503 tells it to come back.
        Npgsql.NpgsqlException database when IsOutage(database) =>
            new ApiError(ApiErrorKind.Unavailable, "A dependency is unavailable; retry shortly.") { RetryAfter = TimeSpan.FromSeconds(1) },
        // Backstop for text no validation rule caught: PostgreSQL refuses NUL and invalid UTF-8.
        Npgsql.PostgresException { SqlState: "22021" or "22P05" } or System.Text.EncoderFallbackException =>
            new ApiError(ApiErrorKind.Validation, $"The request contains text that cannot be stored. {StorableText.Rule}"),
        StackExchange.Redis.RedisConnectionException or TimeoutException =>
            new ApiError(ApiErrorKind.Unavailable, "A dependency is unavailable; retry shortly.") { RetryAfter = TimeSpan.FromSeconds(1) },
        _ => null,
    };

    // Connection failures, resource exhaustion and server shutdown are outages; any other PostgreSQL error (a
    // constraint, a syntax error) is a bug and stays a 500 so it is seen.
    private static bool IsOutage(Npgsql.NpgsqlException exception) => exception is not Npgsql.PostgresException postgres
        || postgres.SqlState.StartsWith("08", StringComparison.Ordinal)
        || postgres.SqlState.StartsWith("53", StringComparison.Ordinal)
        || postgres.SqlState.StartsWith("57P", StringComparison.Ordinal);
}

/// <summary>Turns an <see cref="ApiError"/> from any handler into its ProblemDetails response.</summary>
internal sealed class ApiErrorHandler(ILogger<ApiErrorHandler> logger) : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext context, Exception exception, CancellationToken cancellationToken)
    {
        if (ApiErrors.From(exception) is not { } error) return false;
        if (error.Kind == ApiErrorKind.Unavailable && exception is not ApiError)
            logger.LogWarning(exception, "Answered 503: a dependency failed");
        await ProblemResponses.WriteAsync(context, error);
        return true;
    }
}
