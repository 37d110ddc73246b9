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

    public string ApplyTo(string? connectionString)
    {
        var builder = new NpgsqlConnectionStringBuilder(connectionString)
        {
            MaxPoolSize = MaxPoolSize,
            MinPoolSize = MinPoolSize,
            ConnectionIdleLifetime = (int)ConnectionIdleLifetime.TotalSeconds,
            ConnectionLifetime = (int)ConnectionLifetime.TotalSeconds,
        };
        return builder.ConnectionString;
    }
}

public static class PostgresExtensions
{
    public const string ConnectionName = "herald";

    /// <summary>Registers the <see cref="NpgsqlDataSource"/> for Herald's database (Aspire.Npgsql: health check, tracing,
    /// metrics) with the pool tuned from <see cref="PostgresPoolOptions"/>.</summary>
    public static void AddHeraldDatabase(this IHostApplicationBuilder builder)
    {
        var pool = builder.Configuration.GetSection(PostgresPoolOptions.Section).Get<PostgresPoolOptions>() ?? new PostgresPoolOptions();
        builder.AddNpgsqlDataSource(ConnectionName, settings => settings.ConnectionString = pool.ApplyTo(settings.ConnectionString),
            // Metrics and traces name the pool; by default that is the connection string, host and user included.
            dataSource => dataSource.Name = ConnectionName);
    }
}
