using Microsoft.Extensions.DependencyInjection;

namespace Herald.Database;

public static class DatabaseMigration
{
    /// <summary>Brings the schema up to date before the service takes work; safe to run from every replica.</summary>
    public static Task MigrateDatabaseAsync(this IServiceProvider services, CancellationToken cancellationToken = default) =>
        ActivatorUtilities.CreateInstance<SchemaMigrator>(services).MigrateAsync(cancellationToken);
}
