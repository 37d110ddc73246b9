using System.Globalization;
using System.Xml.Linq;

namespace Herald.AppHost.Deployment;

/// <summary>
/// The container settings a project file gives <c>dotnet publish -t:PublishContainer</c>: <c>ContainerRepository</c>,
/// <c>ContainerUser</c> and the <c>ContainerPort</c> items. The AppHost (publishing an endpoint on a declared port) and
/// the Kubernetes generator (running the image) read them from here, so each number is written once, in the project
/// file. They are read literally: neither can evaluate MSBuild, and a guess would describe a different container.
/// <para>
/// The first port is the http port, where .NET images listen (<c>ASPNETCORE_HTTP_PORTS</c>). Any other port names the
/// Aspire endpoint it serves (<c>&lt;ContainerPort Include="8081" Type="tcp" Name="grpc" /&gt;</c>); the SDK reads only
/// the number and the type, so the name is for the AppHost.
/// </para>
/// </summary>
public sealed class ProjectContainerSettings
{
    private readonly XDocument _document;

    private ProjectContainerSettings(string projectFile, XDocument document)
    {
        ProjectFile = projectFile;
        _document = document;
        Ports = [.. document.Descendants("ContainerPort").Select(ReadPort)];
        if (Ports.Count == 0) throw Missing("<ContainerPort Include=\"…\">");
    }

    public string ProjectFile { get; }

    public string Repository => Literal(_document.Descendants("ContainerRepository").FirstOrDefault()?.Value, "<ContainerRepository>");

    public long User => long.TryParse(Literal(_document.Descendants("ContainerUser").FirstOrDefault()?.Value, "<ContainerUser>"),
        CultureInfo.InvariantCulture, out var uid)
        ? uid
        : throw Missing("<ContainerUser> as a numeric user id");

    /// <summary>In declaration order: the http port first.</summary>
    public IReadOnlyList<ContainerPort> Ports { get; }

    public int HttpPort => Ports[0].Number;

    public static ProjectContainerSettings Load(string projectFile) => new(projectFile, XDocument.Load(projectFile));

    /// <summary>The port declared for the Aspire endpoint <paramref name="endpoint"/>.</summary>
    public int PortFor(string endpoint) => Ports.FirstOrDefault(p => p.Name == endpoint)?.Number
        ?? throw Missing($"<ContainerPort Include=\"…\" Type=\"tcp\" Name=\"{endpoint}\"> for its {endpoint} endpoint");

    private ContainerPort ReadPort(XElement item) =>
        int.TryParse(Literal(item.Attribute("Include")?.Value, "<ContainerPort Include=\"…\">"), CultureInfo.InvariantCulture, out var number)
            ? new ContainerPort(number, item.Attribute("Name")?.Value)
            : throw Missing("<ContainerPort Include=\"…\"> as a number");

    private string Literal(string? value, string what) =>
        string.IsNullOrWhiteSpace(value) || value.Contains("$(", StringComparison.Ordinal) ? throw Missing(what) : value.Trim();

    private DistributedApplicationException Missing(string what) =>
        new($"{ProjectFile} must set {what} literally: the AppHost and the Kubernetes manifests describe the container it builds.");
}

/// <summary>A port a project's image exposes, and the Aspire endpoint it serves (none for the http port).</summary>
public sealed record ContainerPort(int Number, string? Name);
