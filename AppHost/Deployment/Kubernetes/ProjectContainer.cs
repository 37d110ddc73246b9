using Herald.AppHost.Deployment.Manifest;

namespace Herald.AppHost.Deployment.Kubernetes;

/// <summary>
/// A project's container as <c>dotnet publish -t:PublishContainer</c> builds it, from the project file the manifest points
/// to: the image (<c>ContainerRepository</c>, behind the configured registry, with the configured tag), the user it runs
/// as and the ports it exposes (see <see cref="ProjectContainerSettings"/>).
/// </summary>
public sealed record ProjectContainer(string Image, long User, ProjectContainerSettings Settings)
{
    /// <summary>Where the project serves its http binding, which the manifest leaves to the image.</summary>
    public int HttpPort => Settings.HttpPort;

    public static ProjectContainer For(AspireManifest manifest, ManifestResource project, KubernetesOptions options)
    {
        var relative = project.ProjectPath ?? throw new DistributedApplicationException($"Project '{project.Name}' has no path in the manifest.");
        var settings = ProjectContainerSettings.Load(Path.GetFullPath(Path.Combine(Path.GetDirectoryName(manifest.Path)!, relative)));

        var registry = options.ImageRegistry.TrimEnd('/');
        return new ProjectContainer($"{(registry.Length > 0 ? registry + "/" : "")}{settings.Repository}:{options.ImageTag}", settings.User, settings);
    }

    /// <summary>Whether the image exposes <paramref name="port"/>: a port it does not declare is one the project file
    /// and the AppHost disagree on.</summary>
    public bool Exposes(int port) => Settings.Ports.Any(p => p.Number == port);
}
