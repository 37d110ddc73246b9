using Herald.AppHost.Deployment;
using Herald.ServiceDefaults.Health;

namespace Herald.AppHost;

public static class ManagementPorts
{
    /// <summary>The service's <c>/healthz</c>, <c>/readyz</c> and <c>/metrics</c> on a port of their own (see
    /// ServiceDefaults' <see cref="ManagementPort"/>): the dashboard's health check reads it here, the Kubernetes probes
    /// and scrape annotations in the cluster, and it is never external.</summary>
    public static IResourceBuilder<ProjectResource> WithManagementPort(this IResourceBuilder<ProjectResource> project) =>
        project.WithHttpEndpoint(name: ManagementPort.EndpointName, env: ManagementPort.PortSetting)
            .PublishWithContainerPort(ManagementPort.EndpointName)
            .WithHttpHealthCheck(HealthProbes.ReadinessPath, endpointName: ManagementPort.EndpointName);
}
