using HealthChecks.NpgSql;
using Herald.AppHost.Infrastructure.Health;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace Herald.AppHost.Infrastructure.Local;

/// <summary>A PostgreSQL server run from the locally installed binaries, with a throw-away data directory.</summary>
public sealed class LocalPostgresResource(string name, string command, string dataDirectory, ParameterResource password)
    : ExecutableResource(name, command, dataDirectory), IResourceWithConnectionString
{
    public const string UserName = "postgres";

    public string DataDirectory { get; } = dataDirectory;

    public ParameterResource Password { get; } = password;

    public EndpointReference PrimaryEndpoint => new(this, "tcp");

    public ReferenceExpression ConnectionStringExpression => ReferenceExpression.Create(
        $"Host={PrimaryEndpoint.Property(EndpointProperty.IPV4Host)};Port={PrimaryEndpoint.Property(EndpointProperty.Port)};Username={UserName};Password={Password}");

    internal List<LocalPostgresDatabaseResource> Databases { get; } = [];
}

/// <summary>A database on a <see cref="LocalPostgresResource"/>; the AppHost creates it once the server is ready.</summary>
public sealed class LocalPostgresDatabaseResource(string name, string databaseName, LocalPostgresResource parent)
    : Resource(name), IResourceWithParent<LocalPostgresResource>, IResourceWithConnectionString
{
    public string DatabaseName { get; } = databaseName;

    public LocalPostgresResource Parent { get; } = parent;

    public ReferenceExpression ConnectionStringExpression => ReferenceExpression.Create($"{Parent};Database={DatabaseName}");
}

public static class LocalPostgresExtensions
{
    public static IResourceBuilder<LocalPostgresResource> AddLocalPostgres(this IDistributedApplicationBuilder builder, string name, IResourceBuilder<ParameterResource> password)
    {
        var binaries = LocalBinaries.FindPostgres();
        LocalBinaries.RequireSetprivWhenRoot();
        var runAs = LocalProcess.IsRoot ? LocalPostgresResource.UserName : null;
        var dataDirectory = ScratchDirectory.For(name);
        var port = LocalProcess.FreePort();

        var (command, arguments) = LocalProcess.AsUser(runAs, binaries.Server,
            "-D", dataDirectory,
            "-p", port.ToString(System.Globalization.CultureInfo.InvariantCulture),
            "-k", dataDirectory,
            "-c", "listen_addresses=127.0.0.1",
            "-c", "max_connections=300");
        var server = new LocalPostgresResource(name, command, dataDirectory, password.Resource);

        // initdb must finish before the server starts; DCP waits for this event's handlers.
        builder.Eventing.Subscribe<BeforeResourceStartedEvent>(server, async (@event, ct) =>
        {
            var logger = @event.Services.GetRequiredService<ResourceLoggerService>().GetLogger(server);
            await InitializeDataDirectoryAsync(binaries, runAs, dataDirectory, await password.Resource.GetValueAsync(ct) ?? "", logger, ct);
        });

        builder.Eventing.Subscribe<ResourceReadyEvent>(server, async (@event, ct) =>
        {
            var notifications = @event.Services.GetRequiredService<ResourceNotificationService>();
            var connectionString = await server.ConnectionStringExpression.GetValueAsync(ct);
            await using var connection = new NpgsqlConnection(connectionString + ";Database=postgres");
            await connection.OpenAsync(ct);
            foreach (var database in server.Databases)
            {
                await using (var exists = new NpgsqlCommand("SELECT 1 FROM pg_database WHERE datname = $1", connection))
                {
                    exists.Parameters.Add(new() { Value = database.DatabaseName });
                    if (await exists.ExecuteScalarAsync(ct) is null)
                    {
                        var quoted = new NpgsqlCommandBuilder().QuoteIdentifier(database.DatabaseName);
                        await using var create = new NpgsqlCommand($"CREATE DATABASE {quoted}", connection);
                        await create.ExecuteNonQueryAsync(ct);
                    }
                }
                // Executables don't hand their state to children as containers do; the database is up now.
                await notifications.PublishUpdateAsync(database, state => state with
                {
                    State = KnownResourceStates.Running,
                    StartTimeStamp = DateTime.UtcNow,
                });
            }
        });

        return builder.AddResource(server)
            .WithArgs(arguments)
            .WithEndpoint(name: "tcp", scheme: "tcp", port: port, targetPort: port, isProxied: false)
            // The server's own connection string names no database; the check connects to the one initdb creates.
            .WithConnectionStringHealthCheck(connectionString => new NpgSqlHealthCheck(new NpgSqlHealthCheckOptions(connectionString + ";Database=postgres")))
            .ExcludeFromManifest();
    }

    public static IResourceBuilder<LocalPostgresDatabaseResource> AddDatabase(this IResourceBuilder<LocalPostgresResource> server, string name, string? databaseName = null)
    {
        var database = new LocalPostgresDatabaseResource(name, databaseName ?? name, server.Resource);
        server.Resource.Databases.Add(database);

        return server.ApplicationBuilder.AddResource(database)
            .WithInitialState(new CustomResourceSnapshot
            {
                ResourceType = "PostgresDatabase",
                State = KnownResourceStates.Waiting,
                Properties = [new("database", databaseName ?? name)],
            })
            .WithConnectionStringHealthCheck(connectionString => new NpgSqlHealthCheck(new NpgSqlHealthCheckOptions(connectionString)))
            .ExcludeFromManifest();
    }

    private static async Task InitializeDataDirectoryAsync(LocalBinaries.Postgres binaries, string? runAs, string dataDirectory,
        string password, ILogger logger, CancellationToken cancellationToken)
    {
        if (File.Exists(Path.Combine(dataDirectory, "PG_VERSION"))) return; // restarted from the dashboard: keep the data

        Directory.CreateDirectory(dataDirectory);
        var passwordFile = dataDirectory + ".pw";
        await File.WriteAllTextAsync(passwordFile, password, cancellationToken);
        if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(passwordFile, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        try
        {
            if (runAs is not null)
            {
                await RequireSuccessAsync(logger, "chown", [$"{runAs}:{runAs}", dataDirectory, passwordFile], cancellationToken);
            }
            var (command, arguments) = LocalProcess.AsUser(runAs, binaries.InitDb,
                "-D", dataDirectory, "-U", LocalPostgresResource.UserName, "--pwfile", passwordFile,
                "--auth=scram-sha-256", "--encoding=UTF8", "--locale=C", "--no-sync");
            await RequireSuccessAsync(logger, command, arguments, cancellationToken);
            logger.LogInformation("Initialized a throw-away PostgreSQL data directory at {DataDirectory}", dataDirectory);
        }
        finally
        {
            File.Delete(passwordFile);
        }
    }

    private static async Task RequireSuccessAsync(ILogger logger, string command, string[] arguments, CancellationToken cancellationToken)
    {
        var result = await LocalProcess.RunAsync(command, arguments, TimeSpan.FromMinutes(1), cancellationToken);
        if (result.ExitCode != 0)
        {
            logger.LogError("{Command} failed ({ExitCode}): {Output}", command, result.ExitCode, result.Output);
            throw new DistributedApplicationException($"{command} failed with exit code {result.ExitCode}: {result.Output}");
        }
    }
}
