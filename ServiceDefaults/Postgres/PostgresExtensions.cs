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

    /// <summary>How long a cancelled or timed-out query waits for PostgreSQL to confirm the cancellation; zero drops
    /// the connection at once instead. Npgsql's 2 s would add itself to every request deadline while the server hangs,
    /// and Herald's queries are short: a dropped connection costs a reconnect, a hung one a request.</summary>
    public TimeSpan CancellationWait { get; set; } = TimeSpan.Zero;

    public string ApplyTo(string? connectionString)
    {
        var builder = new NpgsqlConnectionStringBuilder(connectionString)
        {
            MaxPoolSize = MaxPoolSize,
            MinPoolSize = MinPoolSize,
            ConnectionIdleLifetime = (int)ConnectionIdleLifetime.TotalSeconds,
            ConnectionLifetime = (int)ConnectionLifetime.TotalSeconds,
            CancellationTimeout = CancellationWait > TimeSpan.Zero ? (int)CancellationWait.TotalMilliseconds : -1,
        };
        return builder.ConnectionString;
    }
}

public static class PostgresExtensions
{
    public const string ConnectionName = "herald";

    /// <summary>Registers the <see cref="NpgsqlDataSource"/> for Herald's database (Aspire.Npgsql: tracing, metrics) with
    /// the pool tuned from <see cref="PostgresPoolOptions"/>, and the database as a required dependency.</summary>
    public static void AddHeraldDatabase(this IHostApplicationBuilder builder)
    {
        var pool = builder.Configuration.GetSection(PostgresPoolOptions.Section).Get<PostgresPoolOptions>() ?? new PostgresPoolOptions();
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
            // A probe that timed out drops its connection at once rather than politely cancelling on a hung server.
            CancellationTimeout = -1,
            Timeout = (int)Math.Ceiling(DependencyExtensions.ProbeTimeout.TotalSeconds),
            ApplicationName = builder.Environment.ApplicationName + "-probe",
        }.ConnectionString);
        builder.AddDependency(Dependencies.Postgres, DependencyRole.Required, (_, cancellationToken) => probe.CheckAsync(cancellationToken));
    }

    /// <summary>SELECT 1 on one long-lived connection, opened again after any failure.</summary>
    private sealed class PostgresProbe(string connectionString)
    {
        private NpgsqlConnection? _connection;

        public async Task CheckAsync(CancellationToken cancellationToken)
        {
            try
            {
                if (_connection is not { State: System.Data.ConnectionState.Open })
                {
                    if (_connection is not null) await _connection.DisposeAsync();
                    _connection = new NpgsqlConnection(connectionString);
                    await _connection.OpenAsync(cancellationToken);
                }
                await using var query = new NpgsqlCommand("SELECT 1", _connection);
                await query.ExecuteScalarAsync(cancellationToken);
            }
            catch
            {
                // A timed-out or broken connection is not reused.
                var broken = _connection;
                _connection = null;
                if (broken is not null) _ = DisposeQuietlyAsync(broken);
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
