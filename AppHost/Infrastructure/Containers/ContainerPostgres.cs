namespace Herald.AppHost.Infrastructure.Containers;

public static class ContainerPostgresExtensions
{
    /// <summary>Aspire's PostgreSQL container, its data on a volume, and the database on it.</summary>
    public static IResourceBuilder<PostgresDatabaseResource> AddContainerPostgres(this IDistributedApplicationBuilder builder, string name,
        string databaseName, IResourceBuilder<ParameterResource> password) =>
        builder.AddPostgres(name, password: password).WithDataVolume().AddDatabase(databaseName);
}
