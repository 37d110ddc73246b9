using Herald.AppHost.Infrastructure.Local;
using Microsoft.Extensions.Configuration;

namespace Herald.AppHost.Infrastructure;

public enum InfrastructureMode
{
    /// <summary>Container images (Docker or Podman), as Aspire's own integrations run them. Always used to publish.</summary>
    Containers,

    /// <summary>Locally installed <c>postgres</c> and <c>redis-server</c>, and an embedded Kafka-protocol broker.</summary>
    Local,
}

public static class InfrastructureModes
{
    /// <summary>Set to <c>Containers</c> or <c>Local</c> to skip detection.</summary>
    public const string Setting = "Herald:Infrastructure";

    public static (InfrastructureMode Mode, string Reason) Detect(IDistributedApplicationBuilder builder)
    {
        if (builder.ExecutionContext.IsPublishMode)
        {
            return (InfrastructureMode.Containers, "publishing always describes containers");
        }

        var setting = builder.Configuration[Setting];
        if (Enum.TryParse<InfrastructureMode>(setting, ignoreCase: true, out var forced))
        {
            return (forced, $"{Setting}={setting}");
        }
        if (!string.IsNullOrEmpty(setting) && !setting.Equals("Auto", StringComparison.OrdinalIgnoreCase))
        {
            throw new DistributedApplicationException($"{Setting} must be Auto, Containers or Local, not '{setting}'.");
        }

        var runtime = builder.Configuration["ASPIRE_CONTAINER_RUNTIME"] ?? builder.Configuration["DOTNET_ASPIRE_CONTAINER_RUNTIME"] ?? "docker";
        return ContainerRuntimeAnswers(runtime)
            ? (InfrastructureMode.Containers, $"'{runtime} info' answered")
            : (InfrastructureMode.Local, $"no container runtime answered '{runtime} info'; set {Setting}=Containers to insist");
    }

    private static bool ContainerRuntimeAnswers(string runtime)
    {
        try
        {
            var result = LocalProcess.RunAsync(runtime, ["info", "--format", "{{.ServerVersion}}"], TimeSpan.FromSeconds(10), CancellationToken.None)
                .GetAwaiter().GetResult();
            return result.ExitCode == 0;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return false; // not installed
        }
    }
}
