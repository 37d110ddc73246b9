using Herald.AppHost;
using Herald.AppHost.Deployment;
using Herald.AppHost.Infrastructure;
using Herald.AppHost.Infrastructure.Local;
using Herald.AppHost.Supervision;
using Herald.ServiceDefaults.Health;
using Microsoft.Extensions.Configuration;

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

// The first admin API key, so a fresh install is usable without touching the database. Generated into the
// AppHost's user secrets on first run (read it with `dotnet user-secrets list --project AppHost`).
var adminKey = builder.AddParameter("admin-api-key", new GenerateParameterDefault { MinLength = 40, Special = false }, secret: true, persist: true);

// The key that seals signing secrets and header values in PostgreSQL (see the README's key rotation procedure):
// generated the same way, and given to every service that reads them.
var sealingKeys = builder.AddParameter("sealing-keys", new GenerateParameterDefault { MinLength = 48, Special = false }, secret: true, persist: true);

var api = builder.AddProject<Projects.ApiService>("api")
    .WithHeraldInfrastructure(infrastructure)
    .WithEnvironment("Herald__Auth__AdminKey", adminKey)
    .WithEnvironment("Herald__Sealing__Keys", sealingKeys)
    // gRPC on a cleartext HTTP/2 port of its own; REST stays on the http endpoint. Published on the port
    // ApiService.csproj declares for it (ContainerPort Name="grpc").
    .WithHttpEndpoint(port: 5381, name: "grpc", env: "GRPC_PORT")
    .WithEndpoint("grpc", endpoint => endpoint.Transport = "http2")
    .PublishWithContainerPort("grpc")
    .WithManagementPort()
    .WithServiceSettings(builder.Configuration)
    .WithRestartOnCrash()
    .WithExternalHttpEndpoints()
    // azd gives a Container App one external ingress (two external target ports fail `azd up`), and REST has it; gRPC
    // is reached inside the environment or the cluster, or through an ingress of your own.
    .WithEndpoint("grpc", endpoint => endpoint.IsExternal = false)
    .WithEndpoint(ManagementPort.EndpointName, endpoint => endpoint.IsExternal = false);

// Two replicas from the start: a Kafka consumer group shares partitions between them, and losing one loses nothing.
builder.AddProject<Projects.Processor>("processor")
    .WithReplicas(2)
    .WithHeraldInfrastructure(infrastructure)
    .WithEnvironment("Herald__Sealing__Keys", sealingKeys)
    .WithManagementPort()
    .WithServiceSettings(builder.Configuration)
    .WithRestartOnCrash();

// The Kubernetes operator: herald.dev resources (applications, event types, endpoints) reconciled into Herald. Published
// unless Herald:Operator:Publish=false (a target with no Kubernetes API, such as Container Apps); run locally only
// against an API server named with --Herald:Operator:KubernetesUrl (e.g. `kubectl proxy`).
if (builder.ExecutionContext.IsPublishMode ? builder.Configuration.GetValue(OperatorAccess.PublishSetting, true)
        : builder.Configuration["Herald:Operator:KubernetesUrl"] is not null)
{
    // Two replicas, one leading (a Lease): the standby takes over within the lease duration.
    builder.AddProject<Projects.Operator>("operator")
        .WithReplicas(2)
        .WithEnvironment("Herald__Operator__ApiUrl", api.GetEndpoint("http"))
        .WithEnvironment("Herald__Operator__AdminKey", adminKey)
        .WithManagementPort()
        .WithServiceSettings(builder.Configuration)
        .WithRestartOnCrash()
        .WithEndpoint(ManagementPort.EndpointName, endpoint => endpoint.IsExternal = false)
        .AsKubernetesController("Crds", OperatorAccess.Rules);
}

builder.AddKubernetesPublishing();

builder.Build().Run();
// Aspire logs a failed publish step and stops with 0; the step sets the exit code so scripts see the failure.
return Environment.ExitCode;
