namespace Herald.AppHost.Infrastructure.Containers;

public static class ContainerRedisExtensions
{
    /// <summary>Aspire's Redis container, its data on a volume, published with a plain connection string
    /// (<see cref="PlainRedisConnectionString"/>).</summary>
    public static IResourceBuilder<RedisResource> AddContainerRedis(this IDistributedApplicationBuilder builder, string name,
        IResourceBuilder<ParameterResource> password) =>
        builder.AddRedis(name, password: password).WithDataVolume().WithPlainConnectionStringWhenPublishing();
}
