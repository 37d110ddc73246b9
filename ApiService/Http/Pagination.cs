using System.Globalization;
using Herald.ApiService.Problems;

namespace Herald.ApiService.Http;

/// <summary>One page of a list, Svix-style: pass <see cref="Iterator"/> back to get the next page.</summary>
public sealed record Page<T>(IReadOnlyList<T> Data, string? Iterator, bool Done)
{
    /// <summary>Builds a page from up to limit+1 rows: the extra row only tells whether more exist.</summary>
    public static Page<T> From(List<T> rows, int limit, Func<T, string> cursor)
    {
        var done = rows.Count <= limit;
        if (!done) rows.RemoveAt(rows.Count - 1);
        return new Page<T>(rows, rows.Count > 0 ? cursor(rows[^1]) : null, done);
    }
}

public sealed record PageRequest(int Limit, string? Iterator)
{
    public const int DefaultLimit = 50;
    public const int MaxLimit = 250;

    public static PageRequest From(HttpRequest request) => Parse(request.Query["limit"], request.Query["iterator"]);

    public static PageRequest Parse(string? limit, string? iterator)
    {
        var size = DefaultLimit;
        if (!string.IsNullOrEmpty(limit) && (!int.TryParse(limit, NumberStyles.None, CultureInfo.InvariantCulture, out size) || size is < 1 or > MaxLimit))
            throw ApiError.Invalid("limit", $"A whole number from 1 to {MaxLimit}.");
        if (iterator is { Length: > 256 })
            throw ApiError.Invalid("iterator", "Not an iterator this API returned.");
        return new PageRequest(size, string.IsNullOrEmpty(iterator) ? null : iterator);
    }
}
