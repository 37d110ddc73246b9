namespace Herald.ApiService.Applications;

public sealed record ApplicationInput(string? Name, int? RateLimit, bool? RequireRegisteredEventTypes);

public sealed record ApplicationResponse(
    string Id,
    string Name,
    int? RateLimit,
    bool RequireRegisteredEventTypes,
    DateTimeOffset CreatedAt,
    DateTimeOffset UpdatedAt);
