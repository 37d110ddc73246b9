using System.Text.RegularExpressions;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace Herald.Database;

/// <summary>
/// Applies the versioned SQL scripts embedded in this assembly (<c>Database/Migrations/NNNN_name.sql</c>) in order,
/// each in its own transaction. Every service may call it at start-up: a PostgreSQL advisory lock makes concurrent
/// replicas take turns, and applied versions are recorded in <c>schema_migrations</c>.
/// </summary>
public sealed partial class SchemaMigrator(NpgsqlDataSource dataSource, ILogger<SchemaMigrator> logger)
{
    /// <summary>The advisory lock replicas take turns on. Any constant works; it only has to be the same for every
    /// Herald process sharing the database.</summary>
    public const long AdvisoryLockKey = 0x4865_7261_6C64;

    // The services' pools time commands out in seconds (a request must not wait longer); a replica waiting its turn
    // for the lock while another applies the scripts, or a long script, must not fail the service's start.
    private const int MigrationCommandTimeoutSeconds = 600;

    // At start-up (many processes starting on a busy machine) a pool's short connect timeout can expire once.
    private static readonly TimeSpan ConnectDeadline = TimeSpan.FromSeconds(60);

    public static IReadOnlyList<Migration> Migrations { get; } = LoadMigrations();

    public async Task MigrateAsync(CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await ExecuteAsync(connection, $"SELECT pg_advisory_lock({AdvisoryLockKey})", cancellationToken);
        try
        {
            await ExecuteAsync(connection, """
                CREATE TABLE IF NOT EXISTS schema_migrations (
                    version    integer     PRIMARY KEY,
                    name       text        NOT NULL,
                    applied_at timestamptz NOT NULL DEFAULT now())
                """, cancellationToken);

            var applied = new HashSet<int>();
            await using (var command = new NpgsqlCommand("SELECT version FROM schema_migrations", connection) { CommandTimeout = MigrationCommandTimeoutSeconds })
            await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
            {
                while (await reader.ReadAsync(cancellationToken)) applied.Add(reader.GetInt32(0));
            }

            foreach (var migration in Migrations.Where(m => !applied.Contains(m.Version)))
            {
                await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
                await ExecuteAsync(connection, migration.Sql, cancellationToken);
                await using (var record = new NpgsqlCommand(
                    "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", connection))
                {
                    record.CommandTimeout = MigrationCommandTimeoutSeconds;
                    record.Parameters.Add(new() { Value = migration.Version });
                    record.Parameters.Add(new() { Value = migration.Name });
                    await record.ExecuteNonQueryAsync(cancellationToken);
                }
                await transaction.CommitAsync(cancellationToken);
                logger.LogInformation("Applied database migration {Version} {Name}", migration.Version, migration.Name);
            }
        }
        finally
        {
            await ExecuteAsync(connection, $"SELECT pg_advisory_unlock({AdvisoryLockKey})", CancellationToken.None);
        }
    }

    private async Task<NpgsqlConnection> OpenAsync(CancellationToken cancellationToken)
    {
        var deadline = DateTime.UtcNow + ConnectDeadline;
        while (true)
        {
            try
            {
                return await dataSource.OpenConnectionAsync(cancellationToken);
            }
            catch (Exception exception) when (exception is NpgsqlException or TimeoutException && DateTime.UtcNow < deadline)
            {
                logger.LogWarning("Database not reachable for migrations yet ({Reason}); trying again", exception.Message);
                await Task.Delay(TimeSpan.FromSeconds(1), cancellationToken);
            }
        }
    }

    private static async Task ExecuteAsync(NpgsqlConnection connection, string sql, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(sql, connection) { CommandTimeout = MigrationCommandTimeoutSeconds };
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    private static List<Migration> LoadMigrations()
    {
        var assembly = typeof(SchemaMigrator).Assembly;
        var migrations = new List<Migration>();
        foreach (var resource in assembly.GetManifestResourceNames())
        {
            var match = MigrationName().Match(resource);
            if (!match.Success) continue;
            using var stream = assembly.GetManifestResourceStream(resource)!;
            using var reader = new StreamReader(stream);
            migrations.Add(new Migration(int.Parse(match.Groups["version"].Value), match.Groups["name"].Value, reader.ReadToEnd()));
        }
        migrations.Sort((a, b) => a.Version.CompareTo(b.Version));
        if (migrations.Select(m => m.Version).Distinct().Count() != migrations.Count)
            throw new InvalidOperationException("Two database migrations share a version number.");
        return migrations;
    }

    [GeneratedRegex(@"\.Migrations\.(?<version>\d{4})_(?<name>[a-z0-9_]+)\.sql$")]
    private static partial Regex MigrationName();
}

public sealed record Migration(int Version, string Name, string Sql);
