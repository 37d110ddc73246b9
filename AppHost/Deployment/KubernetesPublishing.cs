// The pipeline API is experimental in Aspire 13; it is how a publish step joins `--operation publish`.
#pragma warning disable ASPIREPIPELINES001

using Aspire.Hosting.Pipelines;
using Herald.AppHost.Deployment.Kubernetes;
using Herald.AppHost.Deployment.Manifest;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Herald.AppHost.Deployment;

/// <summary>
/// <c>dotnet run --project AppHost -- --operation publish --step publish-kubernetes --output-path deploy/k8s</c> writes
/// the Aspire manifest (Aspire's own <c>publish-manifest</c> step) and, from it, a kustomize tree beside it.
/// </summary>
public static class KubernetesPublishing
{
    public const string StepName = "publish-kubernetes";

    private const string ManifestStep = "publish-manifest";
    private const string ManifestFile = "aspire-manifest.json";

    public static IDistributedApplicationBuilder AddKubernetesPublishing(this IDistributedApplicationBuilder builder)
    {
        var options = builder.Configuration.GetSection(KubernetesOptions.Section).Get<KubernetesOptions>() ?? new KubernetesOptions();

        builder.Pipeline.AddStep(StepName, context =>
        {
            var output = context.Services.GetRequiredService<IOptions<PipelineOptions>>().Value.OutputPath;
            try
            {
                if (string.IsNullOrEmpty(output) || output.EndsWith(".json", StringComparison.Ordinal))
                {
                    throw new DistributedApplicationException($"{StepName} needs --output-path <directory>.");
                }
                KustomizeTree.Write(AspireManifest.Load(Path.Combine(output, ManifestFile)), options, KubernetesControllers.In(context.Model), output,
                    name => builder.Configuration[$"Parameters:{name}"] ?? builder.Configuration.GetConnectionString(name));
            }
            catch
            {
                // Aspire logs the exception and stops the host normally; Program returns this code.
                Environment.ExitCode = 1;
                throw;
            }
            context.Logger.LogInformation("Kubernetes manifests written to {Directory}: base/ and overlays/{Overlays}",
                Path.GetFullPath(output!), string.Join(", overlays/", options.Environments.Keys));
            return Task.CompletedTask;
        }, dependsOn: ManifestStep);
        return builder;
    }
}
