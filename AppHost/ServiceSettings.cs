using Microsoft.Extensions.Configuration;

namespace Herald.AppHost;

public static class ServiceSettings
{
    /// <summary>Sections of the AppHost's configuration that are handed to every service as environment variables, so
    /// <c>dotnet run --project AppHost -- --Herald:Shutdown:DrainDelay=00:00:02</c> (or a test) reaches them.</summary>
    public static readonly string[] ForwardedSections = ["Herald", "Kafka"];

    // The AppHost's own settings (a key, or a whole section), meaningless to a service.
    private static readonly string[] AppHostOnly = [Infrastructure.InfrastructureModes.Setting, Deployment.Kubernetes.KubernetesOptions.Section, OperatorAccess.PublishSetting];

    public static IResourceBuilder<ProjectResource> WithServiceSettings(this IResourceBuilder<ProjectResource> project, IConfiguration configuration)
    {
        foreach (var section in ForwardedSections)
        {
            foreach (var (key, value) in configuration.GetSection(section).AsEnumerable())
            {
                if (value is not null && !IsAppHostOnly(key)) project.WithEnvironment(key.Replace(":", "__", StringComparison.Ordinal), value);
            }
        }
        return project;
    }

    private static bool IsAppHostOnly(string key) => AppHostOnly.Any(own =>
        key.Equals(own, StringComparison.OrdinalIgnoreCase) || key.StartsWith(own + ":", StringComparison.OrdinalIgnoreCase));
}
