using Herald.AppHost.Deployment.Manifest;
using Herald.ServiceDefaults.Health;
using Herald.ServiceDefaults.Telemetry;
using k8s;
using k8s.Models;

namespace Herald.AppHost.Deployment.Kubernetes;

/// <summary>
/// A Herald service (an Aspire project): a Deployment that probes the paths ServiceDefaults maps and stops within the
/// grace period its own shutdown settings imply, a Service with a port per binding the service serves (REST, gRPC…),
/// a PodDisruptionBudget, and per environment an autoscaler.
/// </summary>
public sealed class ServiceWorkload
{
    private const string Component = "service";
    private const string TempVolume = "tmp";

    private readonly string _name;
    private readonly KubernetesOptions _options;

    private ServiceWorkload(string name, KubernetesOptions options, PodEnvironment environment, IReadOnlyList<IKubernetesObject> objects)
    {
        _name = name;
        _options = options;
        Environment = environment;
        Objects = objects;
    }

    public PodEnvironment Environment { get; }

    /// <summary>Deployment, Service and PodDisruptionBudget, for the base.</summary>
    public IReadOnlyList<IKubernetesObject> Objects { get; }

    public static ServiceWorkload For(ManifestResource project, ProjectContainer container, ManifestExpressionResolver resolver, KubernetesOptions options)
    {
        var timings = ServiceTimings.For(project, options);
        var environment = PodEnvironment.For(project, resolver, options.SecretName, timings.PodSettings());
        var ports = ServedPorts(project, container, resolver);
        // Probes and scrapes go to the management port; a project without one is probed on its first HTTP/1.1 port
        // (the kubelet speaks HTTP/1.1, so never a cleartext HTTP/2 port such as gRPC's).
        var probed = ports.FirstOrDefault(p => p.Binding.Name == ManagementPort.EndpointName)
            ?? ports.FirstOrDefault(p => p.Binding.Scheme == "http" && !p.Binding.IsCleartextHttp2)
            ?? throw new DistributedApplicationException($"Project '{project.Name}' has no HTTP/1.1 binding to probe.");

        IKubernetesObject[] objects =
        [
            Deployment(project.Name, container, ports, probed, environment, timings, options),
            // The management port is for the kubelet and Prometheus, which reach pods directly: no Service carries it.
            Service(project.Name, [.. ports.Where(p => p.Binding.Name != ManagementPort.EndpointName)]),
            DisruptionBudget(project.Name),
        ];
        return new ServiceWorkload(project.Name, options, environment, objects);
    }

    /// <summary>Scales on CPU between the environment's bounds for this service.</summary>
    public V2HorizontalPodAutoscaler Autoscaler(EnvironmentOptions environment)
    {
        var replicas = environment.Replicas.TryGetValue(_name, out var range) ? range : new ReplicaRange();
        return new V2HorizontalPodAutoscaler
        {
            Metadata = WorkloadLabels.Metadata(_name, Component),
            Spec = new V2HorizontalPodAutoscalerSpec
            {
                ScaleTargetRef = new V2CrossVersionObjectReference { ApiVersion = "apps/v1", Kind = V1Deployment.KubeKind, Name = _name },
                MinReplicas = replicas.Min,
                MaxReplicas = replicas.Max,
                Metrics =
                [
                    new V2MetricSpec
                    {
                        Type = "Resource",
                        Resource = new V2ResourceMetricSource
                        {
                            Name = "cpu",
                            Target = new V2MetricTarget { Type = "Utilization", AverageUtilization = _options.TargetCpuUtilization },
                        },
                    },
                ],
            },
        };
    }

    /// <summary>A port for each binding served in the cluster (so not the https binding Aspire adds, see
    /// <see cref="ManifestExpressionResolver.IsServed"/>), each one the image declares.</summary>
    private static List<ServedPort> ServedPorts(ManifestResource project, ProjectContainer container, ManifestExpressionResolver resolver)
    {
        var ports = project.Bindings.Where(b => resolver.IsServed(project, b))
            .Select(b => new ServedPort(b, resolver.PortOf(project, b)))
            // Bindings on one port share it: a container declares a port once.
            .DistinctBy(p => p.Number)
            .ToList();
        if (ports.FirstOrDefault(p => !container.Exposes(p.Number)) is { } undeclared)
        {
            throw new DistributedApplicationException(
                $"Project '{project.Name}' serves '{undeclared.Binding.Name}' on port {undeclared.Number}, which {container.Settings.ProjectFile} does not declare: " +
                $"add <ContainerPort Include=\"…\" Type=\"tcp\" Name=\"{undeclared.Binding.Name}\" /> and publish the endpoint with PublishWithContainerPort(\"{undeclared.Binding.Name}\").");
        }
        return ports;
    }

    private static V1Deployment Deployment(string name, ProjectContainer container, List<ServedPort> ports, ServedPort probed, PodEnvironment environment,
        ServiceTimings timings, KubernetesOptions options) => new()
    {
        Metadata = WorkloadLabels.Metadata(name, Component),
        Spec = new V1DeploymentSpec
        {
            Selector = new V1LabelSelector { MatchLabels = WorkloadLabels.Selector(name) },
            // Start the new pod before stopping an old one: capacity never drops during a rollout.
            Strategy = new V1DeploymentStrategy
            {
                Type = "RollingUpdate",
                RollingUpdate = new V1RollingUpdateDeployment { MaxUnavailable = 0, MaxSurge = 1 },
            },
            Template = new V1PodTemplateSpec
            {
                Metadata = new V1ObjectMeta
                {
                    Labels = WorkloadLabels.All(name, Component),
                    Annotations = new Dictionary<string, string>
                    {
                        ["prometheus.io/scrape"] = "true",
                        ["prometheus.io/port"] = probed.Number.ToString(System.Globalization.CultureInfo.InvariantCulture),
                        ["prometheus.io/path"] = TelemetryExtensions.MetricsPath,
                    },
                },
                Spec = new V1PodSpec
                {
                    TerminationGracePeriodSeconds = timings.TerminationGracePeriodSeconds,
                    // Service links would add REDIS_PORT, KAFKA_PORT, … to every container; nothing reads them.
                    EnableServiceLinks = false,
                    AutomountServiceAccountToken = false,
                    SecurityContext = new V1PodSecurityContext
                    {
                        RunAsNonRoot = true,
                        RunAsUser = container.User,
                        RunAsGroup = container.User,
                        SeccompProfile = new V1SeccompProfile { Type = "RuntimeDefault" },
                    },
                    Containers = [Container(name, container.Image, ports, probed, environment, timings, options)],
                    // The root filesystem is read-only; .NET still wants a writable temp directory.
                    Volumes = [new V1Volume { Name = TempVolume, EmptyDir = new V1EmptyDirVolumeSource() }],
                },
            },
        },
    };

    private static V1Container Container(string name, string image, List<ServedPort> ports, ServedPort probed, PodEnvironment environment,
        ServiceTimings timings, KubernetesOptions options)
    {
        var probes = options.Probes;
        var port = probed.Binding.Name;
        return new V1Container
        {
            Name = name,
            Image = image,
            Ports = [.. ports.Select(p => new V1ContainerPort { Name = p.Binding.Name, ContainerPort = p.Number, Protocol = "TCP" })],
            EnvFrom = environment.ConfigMapSource(name),
            Env = environment.Variables.Count > 0 ? [.. environment.Variables] : null,
            Resources = options.WorkloadFor(name).ToResourceRequirements(),
            // Liveness is held back until the service first answers, however long migrations and connections take.
            StartupProbe = HttpProbe(HealthProbes.LivenessPath, port, probes.StartupPeriodSeconds, probes.LivenessTimeoutSeconds,
                (int)Math.Ceiling(probes.StartupBudget.TotalSeconds / probes.StartupPeriodSeconds)),
            LivenessProbe = HttpProbe(HealthProbes.LivenessPath, port, probes.LivenessPeriodSeconds, probes.LivenessTimeoutSeconds, probes.LivenessFailureThreshold),
            ReadinessProbe = HttpProbe(HealthProbes.ReadinessPath, port, probes.ReadinessPeriodSeconds, probes.ReadinessTimeoutSeconds, probes.ReadinessFailureThreshold),
            Lifecycle = timings.PreStopSleepSeconds > 0
                ? new V1Lifecycle { PreStop = new V1LifecycleHandler { Sleep = new V1SleepAction { Seconds = timings.PreStopSleepSeconds } } }
                : null,
            SecurityContext = new V1SecurityContext
            {
                AllowPrivilegeEscalation = false,
                ReadOnlyRootFilesystem = true,
                Capabilities = new V1Capabilities { Drop = ["ALL"] },
            },
            VolumeMounts = [new V1VolumeMount { Name = TempVolume, MountPath = "/tmp" }],
        };
    }

    private static V1Probe HttpProbe(string path, string port, int period, int timeout, int failureThreshold) => new()
    {
        HttpGet = new V1HTTPGetAction { Path = path, Port = port },
        PeriodSeconds = period,
        TimeoutSeconds = timeout,
        FailureThreshold = failureThreshold,
    };

    private static V1Service Service(string name, List<ServedPort> ports) => new()
    {
        Metadata = WorkloadLabels.Metadata(name, Component),
        Spec = new V1ServiceSpec
        {
            Selector = WorkloadLabels.Selector(name),
            Ports = [.. ports.Select(p => new V1ServicePort
            {
                Name = p.Binding.Name,
                Port = p.Number,
                TargetPort = p.Binding.Name,
                Protocol = "TCP",
                // Tells meshes and ingress controllers to speak HTTP/2 with prior knowledge rather than HTTP/1.1.
                AppProtocol = p.Binding.IsCleartextHttp2 ? "kubernetes.io/h2c" : null,
            })],
        },
    };

    // One pod at a time may be evicted by a drain or an upgrade, whatever the replica count.
    private static V1PodDisruptionBudget DisruptionBudget(string name) => new()
    {
        Metadata = WorkloadLabels.Metadata(name, Component),
        Spec = new V1PodDisruptionBudgetSpec
        {
            Selector = new V1LabelSelector { MatchLabels = WorkloadLabels.Selector(name) },
            MaxUnavailable = 1,
        },
    };

    private sealed record ServedPort(ManifestBinding Binding, int Number);
}
