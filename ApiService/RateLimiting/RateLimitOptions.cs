namespace Herald.ApiService.RateLimiting;

/// <summary>Configuration section <c>Herald:RateLimit</c>.</summary>
public sealed class RateLimitOptions
{
    public const string Section = "Herald:RateLimit";

    /// <summary>Requests per second one API key may make, across all API replicas.</summary>
    public int RequestsPerSecond { get; set; } = 1000;
}
