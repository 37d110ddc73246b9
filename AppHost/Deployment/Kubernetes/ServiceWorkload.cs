using Herald.AppHost.Deployment.Manifest;
using Herald.ServiceDefaults.Health;
using Herald.ServiceDefaults.Telemetry;
using k8s;
using k8s.Models;

namespace Herald.AppHost.Deployment.Kubernetes;

/// <summary>
/// A Herald service (an Aspire project): a Deployment that probes the paths ServiceDefaults maps and stops within the
/// grace period its own shutdown settings imply, a Service with a port per binding the service serves (REST, gRPC…),
/// a PodDisruptionBudget, and per environment an autoscaler. A <see cref="KubernetesController"/> instead runs its fixed
/// replicas under a ServiceAccount bound to a namespaced Role of its rules, with no Service and no autoscaler.
/// </summary>
public sealed class ServiceWorkload
{
    private const string Component = "service";
    private const string ControllerComponent = "controller";
    private const string TempVolume = "tmp";

    private readonly string _name;
    private readonly KubernetesOptions _options;
    private readonly bool _scales;

    private ServiceWorkload(string name, KubernetesOptions options, bool scales, PodEnvironment environment, IReadOnlyList<IKubernetesObject> objects)
    {
        _name = name;
        _options = options;
        _scales = scales;
        Environment = environment;
        Objects = objects;
    }

    public PodEnvironment Environment { get; }

    /// <summary>Deployment, Service and PodDisruptionBudget (a controller: Deployment, PodDisruptionBudget, ServiceAccount,
    /// Role and RoleBinding), for the base.</summary>
    public IReadOnlyList<IKubernetesObject> Objects { get; }

    public static ServiceWorkload For(ManifestResource project, ProjectContainer container, ManifestExpressionResolver resolver, KubernetesOptions options,
        KubernetesController? controller = null)
    {
        var timings = ServiceTimings.For(project, options);
        var environment = PodEnvironment.For(project, resolver, options.SecretName, timings.PodSettings());
        var ports = ServedPorts(project, container, resolver);
        // Probes and scrapes go to the management port; a project without one is probed on its first HTTP/1.1 port
        // (the kubelet speaks HTTP/1.1, so never a cleartext HTTP/2 port such as gRPC's).
        var probed = ports.FirstOrDefault(p => p.Binding.Name == ManagementPort.EndpointName)
            ?? ports.FirstOrDefault(p => p.Binding.Scheme == "http" && !p.Binding.IsCleartextHttp2)
            ?? throw new DistributedApplicationException($"Project '{project.Name}' has no HTTP/1.1 binding to probe.");

        var deployment = Deployment(project.Name, container, ports, probed, environment, timings, options, controller);
        IKubernetesObject[] objects = controller is null
            ?
            [
                deployment,
                // The management port is for the kubelet and Prometheus, which reach pods directly: no Service carries it.
                Service(project.Name, [.. ports.Where(p => p.Binding.Name != ManagementPort.EndpointName)]),
                DisruptionBudget(project.Name, Component),
            ]
            : [deployment, DisruptionBudget(project.Name, ControllerComponent), .. Access(project.Name, controller)];
        return new ServiceWorkload(project.Name, options, controller is null, environment, objects);
    }

    /// <summary>Scales on CPU between the environment's bounds for this service; none for a controller.</summary>
    public V2HorizontalPodAutoscaler? Autoscaler(EnvironmentOptions environment)
    {
        if (!_scales) return null;
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
        ServiceTimings timings, KubernetesOptions options, KubernetesController? controller) => new()
    {
        Metadata = WorkloadLabels.Metadata(name, controller is null ? Component : ControllerComponent),
        Spec = new V1DeploymentSpec
        {
            // A service's replicas are its autoscaler's; a controller's are the model's.
            Replicas = controller?.Replicas,
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
                    Labels = WorkloadLabels.All(name, controller is null ? Component : ControllerComponent),
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
                    // Only a controller talks to the API server, as its own ServiceAccount.
                    ServiceAccountName = controller is null ? null : name,
                    AutomountServiceAccountToken = controller is not null,
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
    private static V1PodDisruptionBudget DisruptionBudget(string name, string component) => new()
    {
        Metadata = WorkloadLabels.Metadata(name, component),
        Spec = new V1PodDisruptionBudgetSpec
        {
            Selector = new V1LabelSelector { MatchLabels = WorkloadLabels.Selector(name) },
            MaxUnavailable = 1,
        },
    };

    /// <summary>The controller's identity in the namespace and what it may do there: a Role, never a ClusterRole.</summary>
    private static IKubernetesObject[] Access(string name, KubernetesController controller) =>
    [
        new V1ServiceAccount { Metadata = WorkloadLabels.Metadata(name, ControllerComponent) },
        new V1Role { Metadata = WorkloadLabels.Metadata(name, ControllerComponent), Rules = [.. controller.Rules] },
        new V1RoleBinding
        {
            Metadata = WorkloadLabels.Metadata(name, ControllerComponent),
            RoleRef = new V1RoleRef { ApiGroup = "rbac.authorization.k8s.io", Kind = V1Role.KubeKind, Name = name },
            // The overlay's namespace transformer fills in the subject's namespace along with the objects'.
            Subjects = [new Rbacv1Subject { Kind = V1ServiceAccount.KubeKind, Name = name }],
        },
    ];

    private sealed record ServedPort(ManifestBinding Binding, int Number);
}
