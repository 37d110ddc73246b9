using Herald.Client;
using Herald.Operator.Control;
using Herald.Operator.Leadership;
using Herald.Operator.Reconcilers;
using Herald.Operator.Resources;
using Herald.Operator.Telemetry;
using Herald.ServiceDefaults.Health;
using Dependencies = Herald.Operator.Control.Dependencies;
using k8s;
using Microsoft.Extensions.Options;

namespace Herald.Operator;

public static class OperatorExtensions
{
    /// <summary>The operator: its clients (Kubernetes, Herald), one controller per kind, and the leader election running them.</summary>
    public static IHostApplicationBuilder AddHeraldOperator(this IHostApplicationBuilder builder)
    {
        var services = builder.Services;
        services.AddOptions<OperatorOptions>().Bind(builder.Configuration.GetSection(OperatorOptions.Section))
            .PostConfigure(o =>
            {
                if (o.Namespace.Length == 0) o.Namespace = KubernetesClientConfiguration.IsInCluster() ? KubernetesClientConfiguration.InClusterConfig().Namespace : "default";
            });

        services.AddSingleton<IKubernetes>(sp =>
        {
            var o = sp.GetRequiredService<IOptions<OperatorOptions>>().Value;
            return new Kubernetes(o.KubernetesUrl is { } url ? new KubernetesClientConfiguration { Host = url }
                : KubernetesClientConfiguration.IsInCluster() ? KubernetesClientConfiguration.InClusterConfig()
                : KubernetesClientConfiguration.BuildConfigFromConfigFile());
        });
        // No timeout of its own: AddServiceDefaults (Program.cs) gives every factory client the standard resilience
        // handler (30 s per call in all, 10 s per attempt, retries, circuit breaker), so a hung Herald fails the
        // reconcile, retried with back-off, rather than stalling the loop.
        services.AddHttpClient("herald");
        services.AddSingleton(sp =>
        {
            var o = sp.GetRequiredService<IOptions<OperatorOptions>>().Value;
            return HeraldClient.Create(o.ApiUrl, o.AdminKey, sp.GetRequiredService<IHttpClientFactory>().CreateClient("herald"));
        });

        services.AddSingleton(sp => new ResourceApi<HeraldApplication>(sp.GetRequiredService<IKubernetes>(), HeraldApplication.Type));
        services.AddSingleton(sp => new ResourceApi<HeraldEventType>(sp.GetRequiredService<IKubernetes>(), HeraldEventType.Type));
        services.AddSingleton(sp => new ResourceApi<WebhookEndpoint>(sp.GetRequiredService<IKubernetes>(), WebhookEndpoint.Type));
        services.AddSingleton<ApplicationRefs>();
        services.AddSingleton<SigningSecrets>();
        services.AddSingleton<IReconciler<HeraldApplication>, ApplicationReconciler>();
        services.AddSingleton<IReconciler<HeraldEventType>, EventTypeReconciler>();
        services.AddSingleton<IReconciler<WebhookEndpoint>, EndpointReconciler>();
        services.AddSingleton<EventRecorder>();
        services.AddSingleton<Dependencies>();
        services.AddSingleton<IController, Controller<HeraldApplication>>();
        services.AddSingleton<IController, Controller<HeraldEventType>>();
        services.AddSingleton<IController, Controller<WebhookEndpoint>>();

        services.AddSingleton(sp => new OperatorMetrics(() =>
            sp.GetServices<IController>().Select(c => (c.Kind, c.QueueDepth))));
        services.AddSingleton<LeaderElection>();
        services.AddHostedService(sp => sp.GetRequiredService<LeaderElection>());

        // Ready while the API server answers: a replica that cannot reach it can neither lead nor stand by.
        builder.AddDependency(KubernetesDependency, DependencyRole.Required, async (sp, cancellationToken) =>
        {
            var o = sp.GetRequiredService<IOptions<OperatorOptions>>().Value;
            try
            {
                // The Lease: the one read every replica's Role allows whoever leads; absent is still an answer.
                await sp.GetRequiredService<IKubernetes>().CoordinationV1.ReadNamespacedLeaseAsync(o.LeaseName, o.Namespace, cancellationToken: cancellationToken);
            }
            catch (k8s.Autorest.HttpOperationException e) when (e.Response.StatusCode == System.Net.HttpStatusCode.NotFound)
            {
            }
        });
        return builder;
    }

    /// <summary>The operator's readiness check (and <c>herald_dependency_up</c> label) for the Kubernetes API server.</summary>
    public const string KubernetesDependency = "kubernetes";
}
