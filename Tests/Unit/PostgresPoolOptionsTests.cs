using Herald.ServiceDefaults.Postgres;
using Npgsql;

namespace Herald.Tests.Unit;

public sealed class PostgresPoolOptionsTests
{
    [Fact]
    public void Defaults_cap_the_pool_and_recycle_connections()
    {
        var tuned = new NpgsqlConnectionStringBuilder(new PostgresPoolOptions().ApplyTo("Host=db;Username=herald;Password=x;Database=herald"));

        Assert.Equal(25, tuned.MaxPoolSize);
        Assert.Equal(0, tuned.MinPoolSize);
        Assert.Equal(60, tuned.ConnectionIdleLifetime);
        Assert.Equal(300, tuned.ConnectionLifetime);
        Assert.Equal(5, tuned.Timeout);
        Assert.Equal(30, tuned.CommandTimeout);
        Assert.Equal(-1, tuned.CancellationTimeout);
        Assert.Equal(32, tuned.MaxAutoPrepare);
        Assert.Equal("db", tuned.Host);
        Assert.Equal("herald", tuned.Database);
    }

    [Fact]
    public void Configured_values_replace_the_defaults()
    {
        var options = new PostgresPoolOptions
        {
            MaxPoolSize = 80,
            MinPoolSize = 4,
            ConnectionIdleLifetime = TimeSpan.FromSeconds(30),
            ConnectionLifetime = TimeSpan.FromMinutes(15),
        };

        var tuned = new NpgsqlConnectionStringBuilder(options.ApplyTo("Host=db;Maximum Pool Size=5"));

        Assert.Equal(80, tuned.MaxPoolSize);
        Assert.Equal(4, tuned.MinPoolSize);
        Assert.Equal(30, tuned.ConnectionIdleLifetime);
        Assert.Equal(900, tuned.ConnectionLifetime);
    }
}
