using System.Text.Json;
using Herald.Tests.Infrastructure;

namespace Herald.Tests.Foundation;

/// <summary>Publishing describes containers and projects only — what azd and aspirate consume — whatever mode the
/// AppHost would run in locally.</summary>
public sealed class ManifestTests
{
    [Fact]
    public async Task The_manifest_has_containers_for_infrastructure_projects_for_services_and_no_executables()
    {
        var output = Path.Combine(Path.GetTempPath(), $"herald-manifest-{Guid.NewGuid():N}.json");
        await AppHostPublish.ManifestAsync(output);

        using var manifest = JsonDocument.Parse(await File.ReadAllTextAsync(output));
        var resources = manifest.RootElement.GetProperty("resources").EnumerateObject()
            .ToDictionary(r => r.Name, r => r.Value.GetProperty("type").GetString()!);
        File.Delete(output);

        Assert.StartsWith("container.", resources["postgres"]);
        Assert.StartsWith("container.", resources["redis"]);
        Assert.StartsWith("container.", resources["kafka"]);
        Assert.Equal("value.v0", resources["herald"]);
        Assert.StartsWith("project.", resources["api"]);
        Assert.StartsWith("project.", resources["processor"]);
        Assert.DoesNotContain(resources.Values, type => type.StartsWith("executable.", StringComparison.Ordinal));
        Assert.Equal("parameter.v0", resources["postgres-password"]);
        Assert.Equal("parameter.v0", resources["redis-password"]);
    }
}
