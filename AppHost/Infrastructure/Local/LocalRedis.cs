using HealthChecks.Redis;
using Herald.AppHost.Infrastructure.Health;

namespace Herald.AppHost.Infrastructure.Local;

/// <summary>A Redis server run from the locally installed <c>redis-server</c>, without persistence.</summary>
public sealed class LocalRedisResource(string name, string command, string workingDirectory, ParameterResource password)
    : ExecutableResource(name, command, workingDirectory), IResourceWithConnectionString
{
    public ParameterResource Password { get; } = password;

    public EndpointReference PrimaryEndpoint => new(this, "tcp");

    public ReferenceExpression ConnectionStringExpression => ReferenceExpression.Create(
        $"{PrimaryEndpoint.Property(EndpointProperty.IPV4Host)}:{PrimaryEndpoint.Property(EndpointProperty.Port)},password={Password}");
}

public static class LocalRedisExtensions
{
    public static IResourceBuilder<LocalRedisResource> AddLocalRedis(this IDistributedApplicationBuilder builder, string name, IResourceBuilder<ParameterResource> password)
    {
        var redisServer = LocalBinaries.FindRedis();
        var directory = ScratchDirectory.For(name);
        Directory.CreateDirectory(directory);
        var configFile = Path.Combine(directory, "redis.conf");
        var port = LocalProcess.FreePort();
        var redis = new LocalRedisResource(name, redisServer, directory, password.Resource);

        // The password goes into a config file rather than the command line, which the dashboard displays.
        builder.Eventing.Subscribe<BeforeResourceStartedEvent>(redis, async (_, ct) =>
        {
            var secret = await password.Resource.GetValueAsync(ct);
            await File.WriteAllTextAsync(configFile, $"""
                port {port}
                bind 127.0.0.1
                requirepass "{secret}"
                save ""
                appendonly no
                dir {directory}
                """, ct);
            if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(configFile, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        });

        return builder.AddResource(redis)
            .WithArgs(configFile)
            .WithEndpoint(name: "tcp", scheme: "tcp", port: port, targetPort: port, isProxied: false)
            .WithConnectionStringHealthCheck(connectionString => new RedisHealthCheck(connectionString))
            .ExcludeFromManifest();
    }
}
