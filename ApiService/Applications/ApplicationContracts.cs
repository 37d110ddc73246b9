namespace Herald.ApiService.Applications;

/// <param name="ValidatePayloads">Create-message validates each payload against its event type's schema (types without
/// one are not checked).</param>
public sealed record ApplicationInput(string? Name, int? RateLimit, bool? RequireRegisteredEventTypes, bool? ValidatePayloads = null);

public sealed record ApplicationResponse(
    string Id,
    string Name,
    int? RateLimit,
    bool RequireRegisteredEventTypes,
    bool ValidatePayloads,
    DateTimeOffset CreatedAt,
    DateTimeOffset UpdatedAt);
