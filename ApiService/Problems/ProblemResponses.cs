using System.Globalization;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Mvc;

namespace Herald.ApiService.Problems;

public static class ProblemResponses
{
    public static int StatusCode(this ApiErrorKind kind) => kind switch
    {
        ApiErrorKind.Validation => StatusCodes.Status400BadRequest,
        ApiErrorKind.Unauthenticated => StatusCodes.Status401Unauthorized,
        ApiErrorKind.Forbidden => StatusCodes.Status403Forbidden,
        ApiErrorKind.NotFound => StatusCodes.Status404NotFound,
        ApiErrorKind.Conflict => StatusCodes.Status409Conflict,
        ApiErrorKind.Unprocessable => StatusCodes.Status422UnprocessableEntity,
        ApiErrorKind.PayloadTooLarge => StatusCodes.Status413PayloadTooLarge,
        ApiErrorKind.RateLimited => StatusCodes.Status429TooManyRequests,
        ApiErrorKind.Unavailable => StatusCodes.Status503ServiceUnavailable,
        _ => StatusCodes.Status400BadRequest,
    };

    public static Task WriteAsync(HttpContext context, ApiError error)
    {
        var status = error.Kind.StatusCode();
        context.Response.StatusCode = status;
        if (error.RetryAfter is { } retryAfter)
        {
            context.Response.Headers.RetryAfter = Math.Max(1, (int)Math.Ceiling(retryAfter.TotalSeconds)).ToString(CultureInfo.InvariantCulture);
        }
        var problem = error.Errors.Count > 0
            ? new ValidationProblemDetails(error.Errors.ToDictionary(e => e.Key, e => e.Value)) { Title = error.Title, Status = status }
            : new ProblemDetails { Title = error.Title, Status = status };
        return context.RequestServices.GetRequiredService<IProblemDetailsService>()
            .WriteAsync(new ProblemDetailsContext { HttpContext = context, ProblemDetails = problem }).AsTask();
    }
}

/// <summary>Turns an <see cref="ApiError"/> from any handler into its ProblemDetails response.</summary>
internal sealed class ApiErrorHandler(ILogger<ApiErrorHandler> logger) : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext context, Exception exception, CancellationToken cancellationToken)
    {
        var error = exception switch
        {
            ApiError api => api,
            // Kestrel's own limits (body too large, malformed request) surface as BadHttpRequestException.
            BadHttpRequestException { StatusCode: StatusCodes.Status413PayloadTooLarge } =>
                new ApiError(ApiErrorKind.PayloadTooLarge, "The request body is too large."),
            BadHttpRequestException bad => new ApiError(ApiErrorKind.Validation, bad.Message),
            // A dependency outage is not the client's fault, and not a bug: 503 tells it to come back.
            Npgsql.NpgsqlException database when IsOutage(database) =>
                new ApiError(ApiErrorKind.Unavailable, "A dependency is unavailable; retry shortly.") { RetryAfter = TimeSpan.FromSeconds(1) },
            StackExchange.Redis.RedisConnectionException or TimeoutException =>
                new ApiError(ApiErrorKind.Unavailable, "A dependency is unavailable; retry shortly.") { RetryAfter = TimeSpan.FromSeconds(1) },
            _ => null,
        };
        if (error is null) return false;
        if (error.Kind == ApiErrorKind.Unavailable && exception is not ApiError)
            logger.LogWarning(exception, "Answered 503: a dependency failed");
        await ProblemResponses.WriteAsync(context, error);
        return true;
    }

    // Connection failures, resource exhaustion and server shutdown are outages; any other PostgreSQL error (a
    // constraint, a syntax error) is a bug and stays a 500 so it is seen.
    private static bool IsOutage(Npgsql.NpgsqlException exception) => exception is not Npgsql.PostgresException postgres
        || postgres.SqlState.StartsWith("08", StringComparison.Ordinal)
        || postgres.SqlState.StartsWith("53", StringComparison.Ordinal)
        || postgres.SqlState.StartsWith("57P", StringComparison.Ordinal);
}
