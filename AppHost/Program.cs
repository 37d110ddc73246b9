using Herald.AppHost;
using Herald.AppHost.Infrastructure;

var builder = DistributedApplication.CreateBuilder(args);

// PostgreSQL, Redis and Kafka: containers, local binaries, or existing servers (see Infrastructure/).
var infrastructure = builder.AddHeraldInfrastructure();

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
