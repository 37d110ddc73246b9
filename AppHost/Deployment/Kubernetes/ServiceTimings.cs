using System.Globalization;
using Herald.AppHost.Deployment.Manifest;
using Herald.ServiceDefaults.Shutdown;
using Microsoft.Extensions.Configuration;

namespace Herald.AppHost.Deployment.Kubernetes;

/// <summary>
/// The shutdown numbers of one service in the cluster, computed from the <see cref="ShutdownOptions"/> the service itself
/// binds — its defaults, overridden by the <c>Herald:Shutdown</c> settings the AppHost forwards (present in the manifest).
/// <para>
/// In the cluster the drain happens before SIGTERM: Kubernetes removes a terminating pod from its Service's endpoints
/// in parallel with the preStop hook, so a preStop sleep of the drain delay gives kube-proxy and ingress controllers the
/// time the in-app drain gives load balancers that poll <c>/readyz</c>. Draining again in the app would only delay every
/// stop twice, so the pod is told <c>DrainDelay=0</c> and keeps the whole <see cref="ShutdownOptions.Timeout"/> for
/// in-flight work. The kubelet then waits the grace period: preStop + timeout + the exit allowance.
/// </para>
/// </summary>
public sealed record ServiceTimings(ShutdownOptions Service, int PreStopSleepSeconds, int TerminationGracePeriodSeconds)
{
    public static ServiceTimings For(ManifestResource project, KubernetesOptions options)
    {
        var configuration = new ConfigurationBuilder()
            .AddInMemoryCollection(project.Env.Select(e => KeyValuePair.Create<string, string?>(e.Key.Replace("__", ":", StringComparison.Ordinal), e.Value)))
            .Build();
        var shutdown = configuration.GetSection(ShutdownOptions.Section).Get<ShutdownOptions>() ?? new ShutdownOptions();

        var preStop = WholeSeconds(shutdown.DrainDelay);
        var grace = preStop + WholeSeconds(shutdown.Timeout) + WholeSeconds(options.ExitAllowance);
        return new ServiceTimings(shutdown, preStop, grace);
    }

    /// <summary>What the pod's configuration says, so the service shuts down exactly as the grace period assumes even if
    /// its own appsettings.json said otherwise (environment variables win).</summary>
    public IEnumerable<KeyValuePair<string, string>> PodSettings()
    {
        var section = ShutdownOptions.Section.Replace(":", "__", StringComparison.Ordinal);
        yield return KeyValuePair.Create($"{section}__{nameof(ShutdownOptions.DrainDelay)}", TimeSpan.Zero.ToString("c", CultureInfo.InvariantCulture));
        yield return KeyValuePair.Create($"{section}__{nameof(ShutdownOptions.Timeout)}", Service.Timeout.ToString("c", CultureInfo.InvariantCulture));
    }

    private static int WholeSeconds(TimeSpan duration) => (int)Math.Ceiling(duration.TotalSeconds);
}
