using System.Net;
using Aspire.Hosting.Testing;
using Herald.Tests.Harness;
using k8s.Models;

namespace Herald.Tests.Deployment;

/// <summary>What the generated Deployments probe and scrape, asked of the running services: every path answers.</summary>
[Collection(HeraldAppCollection.Name)]
public sealed class KubernetesProbeTargetTests(HeraldAppFixture herald, KubernetesTree tree) : IClassFixture<KubernetesTree>
{
    [Theory]
    [InlineData("api")]
    [InlineData("processor")]
    public async Task Every_probed_and_scraped_path_is_served(string service)
    {
        var pod = tree.Rendered["prod"].Named<V1Deployment>(service).Spec.Template;
        var container = Assert.Single(pod.Spec.Containers);
        string[] paths =
        [
            container.StartupProbe.HttpGet.Path,
            container.LivenessProbe.HttpGet.Path,
            container.ReadinessProbe.HttpGet.Path,
            pod.Metadata.Annotations["prometheus.io/path"],
        ];

        // The probes and the scrape all knock on one port, named after the AppHost endpoint that serves it.
        Assert.Equal(container.ReadinessProbe.HttpGet.Port.Value, container.LivenessProbe.HttpGet.Port.Value);
        using var http = herald.App.CreateHttpClient(service, container.ReadinessProbe.HttpGet.Port.Value);
        foreach (var path in paths)
        {
            var response = await http.GetAsync(path);
            Assert.True(response.StatusCode == HttpStatusCode.OK, $"{service} {path}: {(int)response.StatusCode}");
        }
    }
}
