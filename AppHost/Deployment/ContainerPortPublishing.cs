namespace Herald.AppHost.Deployment;

public static class ContainerPortPublishing
{
    /// <summary>
    /// Publishes the endpoint <paramref name="endpointName"/> on the container port the project file declares for it, so
    /// the manifest (its target port, and every <c>{…targetPort}</c> such as the env var the service listens on), the
    /// image's exposed ports and the Kubernetes manifests carry one number rather than the one Aspire would pick
    /// (8000, 8001, … in the order endpoints were added).
    /// </summary>
    /// <remarks>The number lives in the project file rather than here because that is what the image exposes (the
    /// Kubernetes generator checks every served port against it). Run mode keeps the target port Aspire allocates
    /// behind its proxy, so parallel runs never collide.</remarks>
    public static IResourceBuilder<ProjectResource> PublishWithContainerPort(this IResourceBuilder<ProjectResource> project, string endpointName)
    {
        if (!project.ApplicationBuilder.ExecutionContext.IsPublishMode) return project;

        var port = ProjectContainerSettings.Load(project.Resource.GetProjectMetadata().ProjectPath).PortFor(endpointName);
        return project.WithEndpoint(endpointName, endpoint => endpoint.TargetPort = port, createIfNotExists: false);
    }
}
