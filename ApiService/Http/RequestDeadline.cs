using Herald.ApiService.Problems;
using Microsoft.AspNetCore.Http.Timeouts;

namespace Herald.ApiService.Http;

/// <summary>Configuration section <c>Herald:Requests</c>.</summary>
public sealed class RequestDeadlineOptions
{
    public const string Section = "Herald:Requests";

    /// <summary>How long a request may run. Beyond it the request is cancelled — PostgreSQL queries included — and
    /// answered 503 with Retry-After: a hung dependency gets a prompt, retryable answer rather than a hang. The
    /// answer arrives within this plus PostgreSQL's cancellation wait (<c>Herald:Postgres:Pool:CancellationWait</c>,
    /// none by default).</summary>
    public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(1.5);

    /// <summary>The deadline of operations on many rows at once (recovering an endpoint).</summary>
    public TimeSpan BulkTimeout { get; set; } = TimeSpan.FromSeconds(30);
}

public static class RequestDeadline
{
    /// <summary>The policy name of <see cref="RequestDeadlineOptions.BulkTimeout"/>.</summary>
    public const string Bulk = "bulk";

    public static void AddRequestDeadline(this IHostApplicationBuilder builder)
    {
        var options = builder.Configuration.GetSection(RequestDeadlineOptions.Section).Get<RequestDeadlineOptions>() ?? new RequestDeadlineOptions();
        builder.Services.AddRequestTimeouts(timeouts =>
        {
            timeouts.DefaultPolicy = Policy(options.Timeout);
            timeouts.AddPolicy(Bulk, Policy(options.BulkTimeout));
        });
    }

    // REST gets a ProblemDetails 503, gRPC a trailers-only UNAVAILABLE (ProblemResponses decides by content type).
    private static RequestTimeoutPolicy Policy(TimeSpan timeout) => new()
    {
        Timeout = timeout,
        TimeoutStatusCode = StatusCodes.Status503ServiceUnavailable,
        WriteTimeoutResponse = context => ProblemResponses.WriteAsync(context,
            new ApiError(ApiErrorKind.Unavailable, $"The request did not complete within {timeout.TotalSeconds:0.#} s: a dependency is slow or unavailable; retry shortly.")
            {
                RetryAfter = TimeSpan.FromSeconds(1),
            }),
    };
}
