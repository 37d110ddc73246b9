using Herald.ApiService.Messages;
using Herald.ApiService.Problems;
using Herald.Deliveries;

namespace Herald.ApiService.Attempts;

/// <summary>Which attempts a list shows: the one filter of the application-wide search and of the per-message and
/// per-endpoint lists (REST and gRPC alike). Every part is optional; times bound <c>attempted_at</c>, exclusively, to the
/// millisecond (see <see cref="AttemptQuery"/>).</summary>
/// <param name="Status">succeeded | failed (<see cref="AttemptStatus"/>).</param>
/// <param name="StatusClass">2xx | 3xx | 4xx | 5xx by HTTP status, or none: no response (timeout, dns, …).</param>
public sealed record AttemptFilter(
    string? Status = null,
    string? StatusClass = null,
    string? EndpointId = null,
    string? MessageId = null,
    DateTimeOffset? After = null,
    DateTimeOffset? Before = null)
{
    public static readonly AttemptFilter None = new();

    public static readonly IReadOnlyList<string> Statuses = [AttemptStatus.Succeeded, AttemptStatus.Failed];
    public static readonly IReadOnlyList<string> StatusClasses = ["2xx", "3xx", "4xx", "5xx", "none"];

    /// <summary>An attempt succeeds exactly when its response is 2xx (the Processor's rule), so these filters match no
    /// attempt: answered without a query, which would otherwise read every attempt of the application to find none
    /// (3.3 s for 2.7 M attempts, docs/queries/attempts-10m.md).</summary>
    public bool MatchesNothing =>
        (Status == AttemptStatus.Succeeded && StatusClass is not null and not "2xx") || (Status == AttemptStatus.Failed && StatusClass == "2xx");

    public static AttemptFilter From(HttpRequest request) => Create(
        request.Query["status"].ToString(), request.Query["statusClass"].ToString(),
        request.Query["endpointId"].ToString(), request.Query["messageId"].ToString(),
        MessageFilter.ParseTime("after", request.Query["after"].ToString()),
        MessageFilter.ParseTime("before", request.Query["before"].ToString()));

    /// <summary>Validates and normalizes; empty text means "any". A 400 names the first bad parameter.</summary>
    public static AttemptFilter Create(string? status, string? statusClass, string? endpointId, string? messageId,
        DateTimeOffset? after, DateTimeOffset? before)
    {
        if (!string.IsNullOrEmpty(status) && !Statuses.Contains(status))
            throw ApiError.Invalid("status", $"One of {string.Join(", ", Statuses)}.");
        var normalizedClass = string.IsNullOrEmpty(statusClass) ? null : statusClass.ToLowerInvariant();
        if (normalizedClass is not null && !StatusClasses.Contains(normalizedClass))
            throw ApiError.Invalid("statusClass", $"One of {string.Join(", ", StatusClasses)} (none: no HTTP response).");
        if (after is not null && before is not null && before <= after)
            throw ApiError.Invalid("before", "Must be later than 'after'.");
        return new AttemptFilter(string.IsNullOrEmpty(status) ? null : status, normalizedClass,
            string.IsNullOrEmpty(endpointId) ? null : endpointId, string.IsNullOrEmpty(messageId) ? null : messageId, after, before);
    }
}
