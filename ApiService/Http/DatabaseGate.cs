using Herald.ApiService.Problems;
using Herald.ServiceDefaults.Health;

namespace Herald.ApiService.Http;

/// <summary>
/// While PostgreSQL is known to be down (the dependency monitor's last probe failed, or a request's query just timed
/// out), API requests are answered 503 with Retry-After at once instead of each waiting out its own timeouts against
/// a server that will not answer. Probes, metrics and the API description stay served.
/// </summary>
internal sealed class DatabaseGate(RequestDelegate next, Dependencies dependencies)
{
    private readonly Dependency _postgres = dependencies[Dependencies.Postgres];

    public Task InvokeAsync(HttpContext context)
    {
        if (_postgres.IsAvailable || !NeedsDatabase(context)) return next(context);
        return ProblemResponses.WriteAsync(context, new ApiError(ApiErrorKind.Unavailable, "The database is unavailable; retry shortly.")
        {
            RetryAfter = TimeSpan.FromSeconds(1),
        });
    }

    // Every API call (REST under /api, and gRPC but its health and reflection services) reads or writes PostgreSQL, if
    // only to look its key up.
    private static bool NeedsDatabase(HttpContext context) =>
        context.Request.Path.StartsWithSegments("/api", StringComparison.Ordinal)
        || (ProblemResponses.IsGrpc(context) && !context.Request.Path.StartsWithSegments("/grpc.health.v1.Health", StringComparison.Ordinal)
                                             && !context.Request.Path.StartsWithSegments("/grpc.reflection", StringComparison.Ordinal));
}
