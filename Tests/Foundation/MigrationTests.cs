using Aspire.Hosting.Testing;
using Herald.Database;
using Herald.Tests.Harness;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;

namespace Herald.Tests.Foundation;

/// <summary>Every replica migrates at start-up, taking turns on an advisory lock, with its own pool's settings.</summary>
[Collection(HeraldAppCollection.Name)]
public sealed class MigrationTests(HeraldAppFixture herald)
{
    [Fact]
    public async Task A_replica_whose_pool_times_commands_out_in_a_second_waits_its_turn_instead_of_failing_its_start()
    {
        var connectionString = await herald.App.GetConnectionStringAsync("herald");
        // The API's pool: commands time out after a second, connections after a second.
        await using var apiPool = NpgsqlDataSource.Create(new NpgsqlConnectionStringBuilder(connectionString)
        {
            CommandTimeout = 1,
            Timeout = 1,
            CancellationTimeout = -1,
        }.ConnectionString);
        await using var other = await herald.OpenDatabaseAsync();
        // Another replica holding the lock for longer than those timeouts, as one applying scripts on a busy machine.
        await using (var take = new NpgsqlCommand("SELECT pg_advisory_lock($1)", other))
        {
            take.Parameters.Add(new() { Value = SchemaMigrator.AdvisoryLockKey });
            await take.ExecuteNonQueryAsync();
        }

        var migration = new SchemaMigrator(apiPool, NullLogger<SchemaMigrator>.Instance).MigrateAsync(CancellationToken.None);
        await Task.Delay(TimeSpan.FromSeconds(3));
        Assert.False(migration.IsCompleted, migration.Exception?.ToString() ?? "finished while another replica held the lock");

        await using (var release = new NpgsqlCommand("SELECT pg_advisory_unlock($1)", other))
        {
            release.Parameters.Add(new() { Value = SchemaMigrator.AdvisoryLockKey });
            Assert.True((bool)(await release.ExecuteScalarAsync())!);
        }
        await migration.WaitAsync(TimeSpan.FromSeconds(30));

        await using var applied = new NpgsqlCommand("SELECT count(*) FROM schema_migrations", other);
        Assert.Equal(SchemaMigrator.Migrations.Count, (long)(await applied.ExecuteScalarAsync())!);
    }
}
