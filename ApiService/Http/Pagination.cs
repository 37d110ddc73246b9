using System.Globalization;
using Herald.ApiService.Problems;
using Npgsql;
using NpgsqlTypes;

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

    /// <summary>Adds this page's iterator and limit as the query's last two parameters, runs it and reads one page
    /// (one extra row is fetched only to learn whether more exist).</summary>
    public async Task<Page<T>> ReadAsync<T>(NpgsqlCommand query, Func<NpgsqlDataReader, T> read, Func<T, string> cursor, CancellationToken cancellationToken)
    {
        query.Parameters.Add(new() { Value = (object?)Iterator ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text });
        query.Parameters.Add(new() { Value = Limit + 1 });
        var rows = new List<T>();
        await using var reader = await query.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken)) rows.Add(read(reader));
        return Page<T>.From(rows, Limit, cursor);
    }

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
