using System.Text;
using System.Text.Json.Nodes;
using Herald.AppHost;
using Herald.AppHost.Deployment.Kubernetes;
using Herald.Kafka;
using Herald.ServiceDefaults.Health;
using Herald.ServiceDefaults.Shutdown;
using Herald.ServiceDefaults.Telemetry;
using Herald.Tests.Harness;
using k8s;
using k8s.Models;
using Npgsql;
using StackExchange.Redis;

namespace Herald.Tests.Deployment;

/// <summary>
/// The generated kustomize tree, checked as each overlay renders: probes on the paths ServiceDefaults maps, shutdown
/// within the grace period the services' own shutdown settings imply, sized and hardened pods, secrets only in the
/// Secret, and everything the issue asks a cluster to have.
/// </summary>
public sealed class KubernetesManifestTests(KubernetesTree tree) : IClassFixture<KubernetesTree>
{
    private static readonly string[] Services = ["api", "processor"];
    private static readonly string[] BackingServices = ["postgres", "redis", "kafka"];
    private const string Operator = "operator";
    private static readonly string[] Deployments = [.. Services.Append(Operator).Order()];

    /// <summary>The folder of each Deployment's project.</summary>
    private static readonly Dictionary<string, string> Projects = new() { ["api"] = "ApiService", ["processor"] = "Processor", [Operator] = "Operator" };

    public static TheoryData<string> Overlays => [.. KubernetesTree.Overlays];

    [Theory]
    [MemberData(nameof(Overlays))]
    public void Each_overlay_has_every_workload_in_its_own_namespace(string overlay)
    {
        var rendered = tree.Rendered[overlay];
        var @namespace = Assert.Single(rendered.OfKind<V1Namespace>()).Metadata.Name;

        Assert.Equal(Deployments, rendered.OfKind<V1Deployment>().Select(d => d.Metadata.Name).Order());
        Assert.Equal(BackingServices.Order(), rendered.OfKind<V1StatefulSet>().Select(s => s.Metadata.Name).Order());
        // Nothing calls the operator: no Service, and leader election rather than CPU decides its replicas.
        Assert.Equal(Services.Concat(BackingServices).Order(), rendered.OfKind<V1Service>().Select(s => s.Metadata.Name).Order());
        Assert.Equal(Deployments, rendered.OfKind<V1PodDisruptionBudget>().Select(p => p.Metadata.Name).Order());
        Assert.Equal(Services, rendered.OfKind<V2HorizontalPodAutoscaler>().Select(h => h.Metadata.Name).Order());
        // CustomResourceDefinitions are cluster-scoped; everything else is in the namespace.
        Assert.All(rendered.Objects.OfType<IMetadata<V1ObjectMeta>>().Where(o => o is not V1Namespace and not V1CustomResourceDefinition),
            o => Assert.Equal(@namespace, o.Metadata.NamespaceProperty));
    }

    [Theory]
    [MemberData(nameof(Overlays))]
    public void Every_deployment_probes_the_paths_the_services_serve(string overlay)
    {
        foreach (var deployment in tree.Rendered[overlay].OfKind<V1Deployment>())
        {
            var container = Assert.Single(deployment.Spec.Template.Spec.Containers);
            var port = Assert.Single(container.Ports, p => p.Name == ManagementPort.EndpointName);

            Assert.Equal((HealthProbes.LivenessPath, port.Name), (container.StartupProbe.HttpGet.Path, container.StartupProbe.HttpGet.Port.Value));
            Assert.Equal((HealthProbes.LivenessPath, port.Name), (container.LivenessProbe.HttpGet.Path, container.LivenessProbe.HttpGet.Port.Value));
            Assert.Equal((HealthProbes.ReadinessPath, port.Name), (container.ReadinessProbe.HttpGet.Path, container.ReadinessProbe.HttpGet.Port.Value));
            // The service listens where the probes knock, on the port its project file declares for them.
            Assert.Equal(port.ContainerPort.ToString(System.Globalization.CultureInfo.InvariantCulture), Settings(overlay, container)[ManagementPort.PortSetting]);
            Assert.Equal(AppHostPublish.ContainerSettings(Projects[deployment.Metadata.Name]).PortFor(ManagementPort.EndpointName), port.ContainerPort);
            // No Service carries it: the kubelet and Prometheus reach pods directly, and nothing else should.
            Assert.DoesNotContain(ServiceOf(overlay, deployment)?.Spec.Ports ?? [], p => p.Name == ManagementPort.EndpointName);
        }
    }

    [Theory]
    [MemberData(nameof(Overlays))]
    public void The_api_serves_grpc_on_the_port_its_project_file_declares(string overlay)
    {
        var grpcPort = AppHostPublish.ContainerSettings("ApiService").PortFor(GrpcPort);
        var rendered = tree.Rendered[overlay];
        var container = Assert.Single(rendered.Named<V1Deployment>("api").Spec.Template.Spec.Containers);

        Assert.Equal(grpcPort, Assert.Single(container.Ports, p => p.Name == GrpcPort).ContainerPort);
        Assert.Equal(grpcPort.ToString(System.Globalization.CultureInfo.InvariantCulture), Settings(overlay, container)[GrpcPortSetting]);
        var servicePort = Assert.Single(rendered.Named<V1Service>("api").Spec.Ports, p => p.Name == GrpcPort);
        Assert.Equal((grpcPort, GrpcPort, "kubernetes.io/h2c"), (servicePort.Port, servicePort.TargetPort.Value, servicePort.AppProtocol));
        // The kubelet probes over HTTP/1.1, which a cleartext HTTP/2 port refuses: on the management port.
        Assert.All(new[] { container.StartupProbe, container.LivenessProbe, container.ReadinessProbe }, probe => Assert.Equal(ManagementPort.EndpointName, probe.HttpGet.Port.Value));
        // A service without gRPC gets no gRPC port.
        Assert.DoesNotContain(rendered.Named<V1Service>("processor").Spec.Ports, p => p.Name == GrpcPort);
    }

    [Theory]
    [MemberData(nameof(Overlays))]
    public void Every_port_a_service_exposes_is_one_it_listens_on(string overlay)
    {
        var rendered = tree.Rendered[overlay];
        foreach (var deployment in rendered.OfKind<V1Deployment>())
        {
            var container = Assert.Single(deployment.Spec.Template.Spec.Containers);
            var settings = Settings(overlay, container);
            // What the services bind: ASP.NET's HTTP_PORTS, gRPC's own port where one is given, and the management port.
            var listening = settings["HTTP_PORTS"].Split(';')
                .Concat(settings.TryGetValue(GrpcPortSetting, out var grpc) ? [grpc] : Array.Empty<string>())
                .Append(settings[ManagementPort.PortSetting])
                .Select(port => int.Parse(port, System.Globalization.CultureInfo.InvariantCulture));

            Assert.Equal(listening.Order(), container.Ports.Select(p => p.ContainerPort).Order());
            var ports = ServiceOf(overlay, deployment)?.Spec.Ports ?? [];
            Assert.All(ports, port => Assert.Contains(container.Ports, p => p.Name == port.TargetPort.Value && p.ContainerPort == port.Port));
            // TLS is terminated in front of the services: Aspire's https binding has no port in the cluster.
            Assert.DoesNotContain(ports, port => port.Name == "https");
        }
    }

    [Theory]
    [MemberData(nameof(Overlays))]
    public void Every_deployment_drains_in_pre_stop_and_finishes_within_its_grace_period(string overlay)
    {
        var service = new ShutdownOptions();
        foreach (var deployment in tree.Rendered[overlay].OfKind<V1Deployment>())
        {
            var container = Assert.Single(deployment.Spec.Template.Spec.Containers);
            var settings = Settings(overlay, container);
            var preStop = container.Lifecycle.PreStop.Sleep.Seconds;

            Assert.Equal((long)Math.Ceiling(service.DrainDelay.TotalSeconds), preStop);
            // Drained once, before SIGTERM: the pod's own drain delay is off and its timeout is the services' default.
            Assert.Equal(TimeSpan.Zero, TimeSpan.Parse(settings["Herald__Shutdown__DrainDelay"], System.Globalization.CultureInfo.InvariantCulture));
            Assert.Equal(service.Timeout, TimeSpan.Parse(settings["Herald__Shutdown__Timeout"], System.Globalization.CultureInfo.InvariantCulture));
            Assert.True(deployment.Spec.Template.Spec.TerminationGracePeriodSeconds >= preStop + service.Timeout.TotalSeconds,
                $"{deployment.Metadata.Name}: grace {deployment.Spec.Template.Spec.TerminationGracePeriodSeconds} s < preStop {preStop} s + timeout {service.Timeout.TotalSeconds} s");
        }
    }

    [Theory]
    [MemberData(nameof(Overlays))]
    public void Every_container_has_requests_and_limits(string overlay)
    {
        var rendered = tree.Rendered[overlay];
        var containers = rendered.OfKind<V1Deployment>().SelectMany(d => d.Spec.Template.Spec.Containers)
            .Concat(rendered.OfKind<V1StatefulSet>().SelectMany(s => s.Spec.Template.Spec.Containers)).ToList();

        Assert.Equal(6, containers.Count);
        foreach (var container in containers)
        {
            foreach (var resource in new[] { "cpu", "memory" })
            {
                var request = container.Resources.Requests[resource].ToDecimal();
                var limit = container.Resources.Limits[resource].ToDecimal();
                Assert.True(request > 0 && request <= limit, $"{container.Name} {resource}: request {request}, limit {limit}");
            }
        }
    }

    [Theory]
    [MemberData(nameof(Overlays))]
    public void Services_run_non_root_on_a_read_only_root_filesystem_and_are_scraped_by_prometheus(string overlay)
    {
        foreach (var deployment in tree.Rendered[overlay].OfKind<V1Deployment>())
        {
            var pod = deployment.Spec.Template;
            var container = Assert.Single(pod.Spec.Containers);

            Assert.True(pod.Spec.SecurityContext.RunAsNonRoot);
            Assert.NotEqual(0, pod.Spec.SecurityContext.RunAsUser);
            Assert.True(container.SecurityContext.ReadOnlyRootFilesystem);
            Assert.False(container.SecurityContext.AllowPrivilegeEscalation);
            Assert.Equal("true", pod.Metadata.Annotations["prometheus.io/scrape"]);
            Assert.Equal(TelemetryExtensions.MetricsPath, pod.Metadata.Annotations["prometheus.io/path"]);
            Assert.Equal(Assert.Single(container.Ports, p => p.Name == ManagementPort.EndpointName).ContainerPort.ToString(System.Globalization.CultureInfo.InvariantCulture),
                pod.Metadata.Annotations["prometheus.io/port"]);
        }
    }

    [Fact]
    public void Secrets_are_only_in_the_secret_never_in_a_config_map_or_a_literal()
    {
        var dev = tree.Rendered["dev"];
        var secret = Assert.Single(dev.OfKind<V1Secret>());
        Assert.Equal(tree.DevSecrets.Keys.Order(), secret.Data.Keys.Order());

        // Every other object, as the cluster receives it, carries no secret value in any encoding.
        var everythingElse = KubernetesYaml.SerializeAll(dev.Objects.Where(o => o is not V1Secret));
        foreach (var value in tree.DevSecrets.Values)
        {
            Assert.DoesNotContain(value, everythingElse, StringComparison.Ordinal);
            Assert.DoesNotContain(Convert.ToBase64String(Encoding.UTF8.GetBytes(value)), everythingElse, StringComparison.Ordinal);
        }

        // Every secret the pods read comes from that Secret (dev) or the one prod expects to exist.
        Assert.All(SecretReferences(dev), reference => Assert.Equal(secret.Metadata.Name, reference.Name));
        Assert.Empty(tree.Rendered["prod"].OfKind<V1Secret>());
        Assert.All(SecretReferences(tree.Rendered["prod"]), reference => Assert.Equal(new KubernetesOptions().SecretName, reference.Name));
        Assert.All(SecretReferences(dev), reference => Assert.Contains(reference.Key, tree.DevSecrets.Keys));
    }

    [Theory]
    [MemberData(nameof(Overlays))]
    public void Connection_strings_reach_the_backing_services_with_the_secrets_passwords(string overlay)
    {
        var rendered = tree.Rendered[overlay];
        foreach (var deployment in rendered.OfKind<V1Deployment>().Where(d => Services.Contains(d.Metadata.Name)))
        {
            var environment = rendered.EnvironmentOf(Assert.Single(deployment.Spec.Template.Spec.Containers), reference => tree.DevSecrets[reference.Key]);

            var database = new NpgsqlConnectionStringBuilder(environment["ConnectionStrings__herald"]);
            AssertServes(rendered, database.Host!, database.Port);
            Assert.Equal(("herald", tree.DevSecrets["postgres-password"]), (database.Database, database.Password));

            var redis = ConfigurationOptions.Parse(environment["ConnectionStrings__redis"]);
            var redisEndpoint = (System.Net.DnsEndPoint)Assert.Single(redis.EndPoints);
            AssertServes(rendered, redisEndpoint.Host, redisEndpoint.Port);
            Assert.Equal(tree.DevSecrets["redis-password"], redis.Password);

            var kafka = environment["ConnectionStrings__kafka"].Split(':');
            AssertServes(rendered, kafka[0], int.Parse(kafka[1], System.Globalization.CultureInfo.InvariantCulture));
        }
    }

    [Theory]
    [MemberData(nameof(Overlays))]
    public void Backing_services_are_stateful_sets_with_persistent_volumes(string overlay)
    {
        foreach (var statefulSet in tree.Rendered[overlay].OfKind<V1StatefulSet>())
        {
            var claim = Assert.Single(statefulSet.Spec.VolumeClaimTemplates);
            var mount = Assert.Single(Assert.Single(statefulSet.Spec.Template.Spec.Containers).VolumeMounts);
            Assert.Equal(claim.Metadata.Name, mount.Name);
            Assert.True(claim.Spec.Resources.Requests["storage"].ToDecimal() > 0);
            Assert.Equal(statefulSet.Metadata.Name, statefulSet.Spec.ServiceName);
        }
    }

    [Theory]
    [MemberData(nameof(Overlays))]
    public void Api_and_processor_scale_on_cpu_and_processors_never_outnumber_partitions(string overlay)
    {
        var rendered = tree.Rendered[overlay];
        foreach (var autoscaler in rendered.OfKind<V2HorizontalPodAutoscaler>())
        {
            Assert.Equal("cpu", Assert.Single(autoscaler.Spec.Metrics).Resource.Name);
            Assert.Equal(V1Deployment.KubeKind, autoscaler.Spec.ScaleTargetRef.Kind);
            rendered.Named<V1Deployment>(autoscaler.Spec.ScaleTargetRef.Name);
            Assert.InRange(autoscaler.Spec.MinReplicas ?? 1, 1, autoscaler.Spec.MaxReplicas);
        }
        Assert.True(rendered.Named<V2HorizontalPodAutoscaler>("processor").Spec.MaxReplicas <= Topics.Messages.Partitions);
    }

    [Fact]
    public async Task Timings_and_images_follow_the_apphost_configuration_and_regenerating_keeps_the_dev_secrets()
    {
        await InScratchTreeAsync(
            prepare: directory => File.Copy(Path.Combine(tree.Directory, DevSecretsFile), Path.Combine(directory, DevSecretsFile)),
            settings: ["--Herald:Shutdown:DrainDelay=00:00:02", "--Herald:Shutdown:Timeout=00:00:20",
                "--Herald:Kubernetes:ImageRegistry=registry.test", "--Herald:Kubernetes:ImageTag=1.2.3"],
            check: (directory, dev) =>
            {
                var deployment = dev.Named<V1Deployment>("api");
                var container = Assert.Single(deployment.Spec.Template.Spec.Containers);
                var environment = dev.EnvironmentOf(container, _ => "");
                Assert.Equal(2, container.Lifecycle.PreStop.Sleep.Seconds);
                Assert.InRange(deployment.Spec.Template.Spec.TerminationGracePeriodSeconds ?? 0, 22, 30);
                Assert.Equal("00:00:20", environment["Herald__Shutdown__Timeout"]);
                Assert.Equal("registry.test/herald-api:1.2.3", container.Image);
                // The generator's own settings stay with the AppHost.
                Assert.DoesNotContain(environment.Keys, key => key.StartsWith("Herald__Kubernetes", StringComparison.OrdinalIgnoreCase));
                Assert.Equal(tree.DevSecrets, KubernetesTree.ReadSecrets(Path.Combine(directory, DevSecretsFile)));
            });
    }

    [Fact]
    public async Task A_server_given_as_a_connection_string_replaces_its_stateful_set_and_is_read_from_the_secret()
    {
        const string managed = "Host=db.example.com;Username=herald;Password=managed-password;Database=herald";
        await InScratchTreeAsync(
            prepare: _ => { },
            settings: [$"--ConnectionStrings:herald={managed}"],
            check: (directory, dev) =>
            {
                Assert.DoesNotContain(dev.OfKind<V1StatefulSet>(), s => s.Metadata.Name == "postgres");
                var secrets = KubernetesTree.ReadSecrets(Path.Combine(directory, DevSecretsFile));
                Assert.Equal(managed, secrets["herald"]);
                var container = Assert.Single(dev.Named<V1Deployment>("api").Spec.Template.Spec.Containers);
                Assert.Equal(managed, dev.EnvironmentOf(container, reference => secrets[reference.Key])["ConnectionStrings__herald"]);
                Assert.DoesNotContain("managed-password", KubernetesYaml.SerializeAll(dev.Objects.Where(o => o is not V1Secret)), StringComparison.Ordinal);
            });
    }

    [Theory]
    [MemberData(nameof(Overlays))]
    public void The_operator_runs_two_replicas_as_its_own_service_account_bound_to_a_namespaced_role_of_exactly_its_rules(string overlay)
    {
        var rendered = tree.Rendered[overlay];
        var pod = rendered.Named<V1Deployment>(Operator).Spec;
        Assert.Equal(2, pod.Replicas);
        Assert.Equal((Operator, true), (pod.Template.Spec.ServiceAccountName, pod.Template.Spec.AutomountServiceAccountToken));
        // The services never talk to the API server, so get no token.
        Assert.All(rendered.OfKind<V1Deployment>().Where(d => d.Metadata.Name != Operator), d =>
            Assert.Equal((null, false), (d.Spec.Template.Spec.ServiceAccountName, d.Spec.Template.Spec.AutomountServiceAccountToken)));

        var @namespace = Assert.Single(rendered.OfKind<V1Namespace>()).Metadata.Name;
        Assert.Equal(Operator, Assert.Single(rendered.OfKind<V1ServiceAccount>()).Metadata.Name);
        var role = Assert.Single(rendered.OfKind<V1Role>());
        Assert.Equal(KubernetesJson.Serialize(OperatorAccess.Rules), KubernetesJson.Serialize(role.Rules));
        // Nothing cluster-wide, and no wildcard.
        Assert.Empty(rendered.OfKind<V1ClusterRole>());
        Assert.Empty(rendered.OfKind<V1ClusterRoleBinding>());
        Assert.DoesNotContain(role.Rules.SelectMany(r => r.Verbs.Concat(r.Resources).Concat(r.ApiGroups)), value => value == "*");

        var binding = Assert.Single(rendered.OfKind<V1RoleBinding>());
        Assert.Equal((V1Role.KubeKind, role.Metadata.Name), (binding.RoleRef.Kind, binding.RoleRef.Name));
        var subject = Assert.Single(binding.Subjects);
        Assert.Equal((V1ServiceAccount.KubeKind, Operator, @namespace), (subject.Kind, subject.Name, subject.NamespaceProperty));
    }

    [Theory]
    [MemberData(nameof(Overlays))]
    public void The_operator_reaches_the_api_through_its_service_with_the_admin_key_from_the_secret(string overlay)
    {
        var rendered = tree.Rendered[overlay];
        var environment = rendered.EnvironmentOf(Assert.Single(rendered.Named<V1Deployment>(Operator).Spec.Template.Spec.Containers),
            reference => reference.Key == "admin-api-key" ? tree.DevSecrets[reference.Key] : throw new InvalidOperationException(reference.Key));

        var api = new Uri(environment["Herald__Operator__ApiUrl"]);
        AssertServes(rendered, api.Host, api.Port);
        Assert.Equal(tree.DevSecrets["admin-api-key"], environment["Herald__Operator__AdminKey"]);
        // Unset, so the operator watches the namespace it runs in, which is all its Role allows.
        Assert.DoesNotContain("Herald__Operator__Namespace", environment.Keys);
    }

    [Theory]
    [MemberData(nameof(Overlays))]
    public void The_custom_resource_definitions_go_with_the_tree_as_the_operator_declares_them(string overlay)
    {
        var declared = Directory.GetFiles(Path.Combine(AppHostPublish.RepositoryRoot(), "Operator", "Crds"), "*.yaml")
            .Select(f => KubernetesYaml.Deserialize<V1CustomResourceDefinition>(File.ReadAllText(f), strict: true))
            .ToDictionary(c => c.Metadata.Name, c => JsonNode.Parse(KubernetesJson.Serialize(c)), StringComparer.Ordinal);
        var rendered = tree.Rendered[overlay].OfKind<V1CustomResourceDefinition>().ToList();

        Assert.Equal(3, declared.Count);
        Assert.Equal(declared.Keys.Order(), rendered.Select(c => c.Metadata.Name).Order());
        // kustomize orders a map's keys its own way.
        Assert.All(rendered, crd => Assert.True(JsonNode.DeepEquals(declared[crd.Metadata.Name], JsonNode.Parse(KubernetesJson.Serialize(crd))), crd.Metadata.Name));
    }

    [Theory]
    [MemberData(nameof(Overlays))]
    public Task Every_object_of_each_overlay_is_valid_against_the_Kubernetes_schemas(string overlay) =>
        KubernetesSchemas.AssertValidAsync([.. tree.Rendered[overlay].Objects]);

    private const string DevSecretsFile = "overlays/dev/" + KustomizeTree.SecretsFile;
    private const string GrpcPort = "grpc";
    // GrpcHosting.PortSetting in ApiService.
    private const string GrpcPortSetting = "GRPC_PORT";

    /// <summary>Generates a tree of its own with <paramref name="settings"/> given to the AppHost, and renders its dev overlay.</summary>
    private static async Task InScratchTreeAsync(Action<string> prepare, string[] settings, Action<string, RenderedOverlay> check)
    {
        var directory = Path.Combine(Path.GetTempPath(), $"herald-k8s-{Guid.NewGuid():N}");
        Directory.CreateDirectory(Path.Combine(directory, "overlays", "dev"));
        try
        {
            prepare(directory);
            await AppHostPublish.KubernetesAsync(directory, settings);
            check(directory, await KubernetesTree.RenderAsync(Path.Combine(directory, "overlays", "dev")));
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    private V1Service? ServiceOf(string overlay, V1Deployment deployment) =>
        tree.Rendered[overlay].OfKind<V1Service>().SingleOrDefault(s => s.Metadata.Name == deployment.Metadata.Name);

    private Dictionary<string, string> Settings(string overlay, V1Container container) =>
        tree.Rendered[overlay].EnvironmentOf(container, reference => tree.DevSecrets[reference.Key]);

    private static IEnumerable<V1SecretKeySelector> SecretReferences(RenderedOverlay rendered) =>
        rendered.OfKind<V1Deployment>().SelectMany(d => d.Spec.Template.Spec.Containers)
            .Concat(rendered.OfKind<V1StatefulSet>().SelectMany(s => s.Spec.Template.Spec.Containers))
            .SelectMany(c => c.Env ?? [])
            .Select(e => e.ValueFrom?.SecretKeyRef)
            .OfType<V1SecretKeySelector>();

    private static void AssertServes(RenderedOverlay rendered, string host, int port) =>
        Assert.Contains(rendered.Named<V1Service>(host).Spec.Ports, p => p.Port == port);
}
