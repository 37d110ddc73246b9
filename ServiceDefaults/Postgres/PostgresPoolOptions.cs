using Npgsql;

namespace Herald.ServiceDefaults.Postgres;

/// <summary>Configuration section <c>Herald:Postgres:Pool</c>: the connection pool each process keeps.</summary>
public sealed class PostgresPoolOptions
{
    public const string Section = "Herald:Postgres:Pool";

    public int MaxPoolSize { get; set; } = 25;

    public int MinPoolSize { get; set; }

    /// <summary>Idle connections above <see cref="MinPoolSize"/> are closed after this long.</summary>
    public TimeSpan ConnectionIdleLifetime { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>Connections are recycled after this long, so failovers and server-side settings are picked up.</summary>
    public TimeSpan ConnectionLifetime { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>How long opening a connection (or waiting for one from a full pool) may take.</summary>
    public TimeSpan ConnectTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>How long a command may run. What bounds a query on a PostgreSQL that hangs: Npgsql then drops the
    /// connection (a timed-out command's cancellation request to a hung server would itself hang, so none is sent —
    /// and for the same reason a cancellation token cannot bound a query there).</summary>
    public TimeSpan CommandTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Statements each connection keeps prepared once used twice: Herald's few hot statements are then parsed
    /// and planned once per connection instead of on every execution (in `perf` of PostgreSQL at saturation, parsing
    /// and planning showed up among its top functions). 0 turns it off, e.g. behind a PgBouncer older than 1.21 in
    /// transaction mode.</summary>
    public int MaxAutoPrepare { get; set; } = 32;

    public string ApplyTo(string? connectionString)
    {
        var builder = new NpgsqlConnectionStringBuilder(connectionString)
        {
            MaxPoolSize = MaxPoolSize,
            MinPoolSize = MinPoolSize,
            ConnectionIdleLifetime = (int)ConnectionIdleLifetime.TotalSeconds,
            ConnectionLifetime = (int)ConnectionLifetime.TotalSeconds,
            Timeout = Seconds(ConnectTimeout),
            CommandTimeout = Seconds(CommandTimeout),
            // A timed-out command drops its connection rather than waiting to cancel it politely on a hung server.
            CancellationTimeout = -1,
            MaxAutoPrepare = MaxAutoPrepare,
            AutoPrepareMinUsages = 2,
        };
        return builder.ConnectionString;
    }

    private static int Seconds(TimeSpan timeout) => Math.Max(1, (int)Math.Ceiling(timeout.TotalSeconds));
}
