using Herald.ServiceDefaults.Health;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Hosting;
using Npgsql;

namespace Herald.ServiceDefaults.Postgres;

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
