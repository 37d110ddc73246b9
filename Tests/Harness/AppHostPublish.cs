using Herald.AppHost.Deployment;
using Herald.AppHost.Infrastructure.Local;

namespace Herald.Tests.Harness;

/// <summary>Runs the AppHost's publish commands in their own process, exactly as the README, azd and aspirate run them.</summary>
public static class AppHostPublish
{
    /// <summary><c>--publisher manifest</c>: the Aspire manifest, written to <paramref name="outputFile"/>.</summary>
    public static Task ManifestAsync(string outputFile, params string[] settings) =>
        RunAsync(["--publisher", "manifest", "--output-path", outputFile, .. settings]);

    /// <summary>The <c>publish-kubernetes</c> step: the manifest and the kustomize tree, written to <paramref name="outputDirectory"/>.</summary>
    public static Task KubernetesAsync(string outputDirectory, params string[] settings) =>
        RunAsync(["--operation", "publish", "--step", "publish-kubernetes", "--output-path", outputDirectory, .. settings]);

    /// <summary>The container settings of a project (by folder, e.g. <c>ApiService</c>), as its project file declares them.</summary>
    public static ProjectContainerSettings ContainerSettings(string project) =>
        ProjectContainerSettings.Load(Path.Combine(RepositoryRoot(), project, $"{project}.csproj"));

    public static string RepositoryRoot()
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "Aspire.sln"))) directory = directory.Parent;
        return directory?.FullName ?? throw new InvalidOperationException("Aspire.sln not found above the test binaries.");
    }

    private static async Task RunAsync(string[] arguments)
    {
        var appHost = Path.Combine(RepositoryRoot(), "AppHost");
        var result = await LocalProcess.RunAsync("dotnet",
            ["run", "--project", appHost, "--no-build", "--no-launch-profile", "--", .. arguments],
            TimeSpan.FromMinutes(3), CancellationToken.None);
        Assert.True(result.ExitCode == 0, result.Output);
    }
}
