using Herald.Deliveries;

namespace Herald.ApiService.Applications;

/// <param name="ValidatePayloads">Create-message validates each payload against its event type's schema (types without
/// one are not checked).</param>
/// <param name="RetryPolicy">How the application's deliveries are retried, over the Processor's configuration; each of
/// its endpoints may override it. Null: the configuration's.</param>
public sealed record ApplicationInput(string? Name, int? RateLimit, bool? RequireRegisteredEventTypes, bool? ValidatePayloads = null,
    RetryPolicy? RetryPolicy = null);

public sealed record ApplicationResponse(
    string Id,
    string Name,
    int? RateLimit,
    bool RequireRegisteredEventTypes,
    bool ValidatePayloads,
    DateTimeOffset CreatedAt,
    DateTimeOffset UpdatedAt,
    RetryPolicy? RetryPolicy = null);
