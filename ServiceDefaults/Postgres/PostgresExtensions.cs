using Herald.ServiceDefaults.Health;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Hosting;
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

public static class PostgresExtensions
{
    public const string ConnectionName = "herald";

    /// <summary>Registers the <see cref="NpgsqlDataSource"/> for Herald's database (Aspire.Npgsql: tracing, metrics) with
    /// the pool tuned from <see cref="PostgresPoolOptions"/>, and the database as a required dependency.</summary>
    /// <param name="defaults">The service's own defaults, which <c>Herald:Postgres:Pool</c> settings override.</param>
    public static void AddHeraldDatabase(this IHostApplicationBuilder builder, Action<PostgresPoolOptions>? defaults = null)
    {
        var pool = new PostgresPoolOptions();
        defaults?.Invoke(pool);
        builder.Configuration.GetSection(PostgresPoolOptions.Section).Bind(pool);
        builder.AddNpgsqlDataSource(ConnectionName, settings =>
            {
                settings.ConnectionString = pool.ApplyTo(settings.ConnectionString);
                // Readiness reads the dependency monitor instead of querying per probe.
                settings.DisableHealthChecks = true;
            },
            // Metrics and traces name the pool; by default that is the connection string, host and user included.
            dataSource => dataSource.Name = ConnectionName);

        // The probe keeps a connection of its own, outside the pool: a pool busy with load is not an outage.
        var probe = new PostgresProbe(new NpgsqlConnectionStringBuilder(builder.Configuration.GetConnectionString(ConnectionName))
        {
            Pooling = false,
            Timeout = 1,
            CommandTimeout = 1,
            CancellationTimeout = -1,
            ApplicationName = builder.Environment.ApplicationName + "-probe",
        }.ConnectionString);
        builder.AddDependency(Dependencies.Postgres, DependencyRole.Required, (_, _) => probe.CheckAsync());
    }

    /// <summary>SELECT 1 on one long-lived connection, opened again after any failure. Bounded by the connection's own
    /// timeouts, not a cancellation token: cancelling a query on a hung server blocks the canceller (Npgsql sends the
    /// server a cancellation request and waits for it). While one probe is still out, the next fails at once.</summary>
    private sealed class PostgresProbe(string connectionString)
    {
        private NpgsqlConnection? _connection;
        private Task _running = Task.CompletedTask;

        public Task CheckAsync() => _running.IsCompleted
            ? _running = CheckOnceAsync()
            : Task.FromException(new TimeoutException("The previous probe has not answered yet."));

        private async Task CheckOnceAsync()
        {
            try
            {
                if (_connection is not { State: System.Data.ConnectionState.Open })
                {
                    if (_connection is not null) await _connection.DisposeAsync();
                    _connection = new NpgsqlConnection(connectionString);
                    await _connection.OpenAsync();
                }
                await using var query = new NpgsqlCommand("SELECT 1", _connection);
                await query.ExecuteScalarAsync();
            }
            catch
            {
                // A timed-out or broken connection is not reused.
                var broken = _connection;
                _connection = null;
                if (broken is not null) await DisposeQuietlyAsync(broken);
                throw;
            }
        }

        private static async Task DisposeQuietlyAsync(NpgsqlConnection connection)
        {
            try
            {
                await connection.DisposeAsync();
            }
            catch (Exception)
            {
                // The server is gone or frozen: nothing to close cleanly.
            }
        }
    }
}
