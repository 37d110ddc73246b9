using Herald.AppHost;
using Herald.AppHost.Infrastructure;
using Herald.AppHost.Infrastructure.Local;

var builder = DistributedApplication.CreateBuilder(args);

// PostgreSQL, Redis and Kafka: containers, local binaries, or existing servers (see Infrastructure/).
HeraldInfrastructure infrastructure;
try
{
    infrastructure = builder.AddHeraldInfrastructure();
}
catch (MissingPrerequisiteException missing)
{
    Console.Error.WriteLine(missing.Message);
    return 1;
}

builder.AddProject<Projects.ApiService>("api")
    .WithHeraldInfrastructure(infrastructure)
    .WithServiceSettings(builder.Configuration)
    .WithHttpHealthCheck("/readyz")
    .WithExternalHttpEndpoints();

builder.AddProject<Projects.Processor>("processor")
    .WithHeraldInfrastructure(infrastructure)
    .WithServiceSettings(builder.Configuration)
    .WithHttpHealthCheck("/readyz");

builder.Build().Run();
return 0;
