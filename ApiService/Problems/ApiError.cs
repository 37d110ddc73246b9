namespace Herald.ApiService.Problems;

public enum ApiErrorKind
{
    Validation,
    Unauthenticated,
    Forbidden,
    NotFound,
    Conflict,

    /// <summary>The resource's state rules the operation out (a disabled endpoint, a payload past retention): 409, but
    /// FAILED_PRECONDITION over gRPC, where <see cref="Conflict"/> means ALREADY_EXISTS.</summary>
    WrongState,
    Unprocessable,
    PayloadTooLarge,
    RateLimited,

    /// <summary>Not the client's fault: a dependency is down or the instance is shutting down; retrying helps.</summary>
    Unavailable,
}

/// <summary>
/// A client error raised by the application layer. REST renders it as ProblemDetails and gRPC as an RpcException,
/// so both surfaces answer the same input the same way.
/// </summary>
public sealed class ApiError(ApiErrorKind kind, string title, IReadOnlyDictionary<string, string[]>? errors = null) : Exception(title)
{
    public ApiErrorKind Kind { get; } = kind;

    public string Title { get; } = title;

    /// <summary>Per-field messages, keyed by the field's JSON name.</summary>
    public IReadOnlyDictionary<string, string[]> Errors { get; } = errors ?? new Dictionary<string, string[]>();

    public TimeSpan? RetryAfter { get; init; }

    /// <summary>Where the object the conflict is about is (REST: the <c>Location</c> header), so a client can take it over
    /// without parsing the title.</summary>
    public string? Location { get; init; }

    public static ApiError NotFound(string what) => new(ApiErrorKind.NotFound, $"The {what} was not found.");

    public static ApiError Invalid(string field, string message) =>
        new(ApiErrorKind.Validation, "The request is not valid.", new Dictionary<string, string[]> { [field] = [message] });

    public static ApiError Invalid(IReadOnlyDictionary<string, string[]> errors) =>
        new(ApiErrorKind.Validation, "The request is not valid.", errors);
}

/// <summary>Collects per-field problems, then throws them all at once.</summary>
public sealed class Validation
{
    private readonly Dictionary<string, List<string>> _errors = [];

    public bool IsValid => _errors.Count == 0;

    public Validation Add(string field, string message)
    {
        if (!_errors.TryGetValue(field, out var messages)) _errors[field] = messages = [];
        messages.Add(message);
        return this;
    }

    public void ThrowIfInvalid()
    {
        if (!IsValid) throw ApiError.Invalid(_errors.ToDictionary(e => e.Key, e => e.Value.ToArray()));
    }
}
