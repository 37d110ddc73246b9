using System.Globalization;
using System.Xml.Linq;
using Herald.AppHost.Deployment.Manifest;

namespace Herald.AppHost.Deployment.Kubernetes;

/// <summary>
/// A project's container as <c>dotnet publish -t:PublishContainer</c> builds it, read from the project file the manifest
/// points to: the image (<c>ContainerRepository</c>, behind the configured registry, with the configured tag), the user
/// it runs as (<c>ContainerUser</c>) and the port it serves on (<c>ContainerPort</c>).
/// </summary>
public sealed record ProjectContainer(string Image, long User, int Port)
{
    public static ProjectContainer For(AspireManifest manifest, ManifestResource project, KubernetesOptions options)
    {
        var relative = project.ProjectPath ?? throw new DistributedApplicationException($"Project '{project.Name}' has no path in the manifest.");
        var projectFile = Path.GetFullPath(Path.Combine(Path.GetDirectoryName(manifest.Path)!, relative));
        var document = XDocument.Load(projectFile);

        var repository = Literal(document.Descendants("ContainerRepository").FirstOrDefault()?.Value, "<ContainerRepository>", projectFile);
        var user = Literal(document.Descendants("ContainerUser").FirstOrDefault()?.Value, "<ContainerUser> (a numeric user id)", projectFile);
        var port = Literal(document.Descendants("ContainerPort").FirstOrDefault()?.Attribute("Include")?.Value, "<ContainerPort Include=\"…\">", projectFile);

        var registry = options.ImageRegistry.TrimEnd('/');
        return new ProjectContainer(
            $"{(registry.Length > 0 ? registry + "/" : "")}{repository}:{options.ImageTag}",
            long.TryParse(user, CultureInfo.InvariantCulture, out var uid) ? uid : throw Missing("<ContainerUser> as a numeric user id", projectFile),
            int.TryParse(port, CultureInfo.InvariantCulture, out var number) ? number : throw Missing("<ContainerPort Include=\"…\"> as a number", projectFile));
    }

    private static string Literal(string? value, string what, string projectFile) =>
        string.IsNullOrWhiteSpace(value) || value.Contains("$(", StringComparison.Ordinal) ? throw Missing(what, projectFile) : value.Trim();

    private static DistributedApplicationException Missing(string what, string projectFile) =>
        new($"{projectFile} must set {what} literally: the Kubernetes manifests run the container it describes.");
}
