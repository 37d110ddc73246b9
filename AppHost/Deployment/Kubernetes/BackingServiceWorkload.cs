using Herald.AppHost.Deployment.Manifest;
using k8s;
using k8s.Models;

namespace Herald.AppHost.Deployment.Kubernetes;

/// <summary>
/// PostgreSQL, Redis or Kafka (an Aspire container): a single-replica StatefulSet with a persistent volume per manifest
/// volume, and a headless Service under the resource's name — the host every connection string in the manifest uses.
/// For a managed service instead, see the README ("Deploying Herald").
/// </summary>
public sealed class BackingServiceWorkload
{
    private const string Component = "infrastructure";

    private BackingServiceWorkload(PodEnvironment environment, IReadOnlyList<IKubernetesObject> objects)
    {
        Environment = environment;
        Objects = objects;
    }

    public PodEnvironment Environment { get; }

    /// <summary>StatefulSet and Service, for the base.</summary>
    public IReadOnlyList<IKubernetesObject> Objects { get; }

    public static BackingServiceWorkload For(ManifestResource container, ManifestExpressionResolver resolver, KubernetesOptions options)
    {
        if (container.HasBuild || container.Image is null)
        {
            throw new DistributedApplicationException($"Container '{container.Name}' is built from a Dockerfile; the Kubernetes generator needs a published image.");
        }
        if (container.HasBindMounts)
        {
            throw new DistributedApplicationException($"Container '{container.Name}' has bind mounts, which have no place in a cluster; use a volume.");
        }

        var environment = PodEnvironment.For(container, resolver, options.SecretName);
        var ports = container.Bindings.Select(b => new V1ContainerPort { Name = b.Name, ContainerPort = resolver.PortOf(container, b), Protocol = "TCP" }).ToList();
        var workload = options.WorkloadFor(container.Name);
        var volumes = container.Volumes.Select((volume, index) => (Name: index == 0 ? "data" : $"data-{index + 1}", volume)).ToList();

        var statefulSet = new V1StatefulSet
        {
            Metadata = WorkloadLabels.Metadata(container.Name, Component),
            Spec = new V1StatefulSetSpec
            {
                ServiceName = container.Name,
                Replicas = 1,
                Selector = new V1LabelSelector { MatchLabels = WorkloadLabels.Selector(container.Name) },
                Template = new V1PodTemplateSpec
                {
                    Metadata = new V1ObjectMeta { Labels = WorkloadLabels.All(container.Name, Component) },
                    Spec = new V1PodSpec
                    {
                        // A Service named kafka would hand every pod KAFKA_PORT=tcp://…, which Confluent's image
                        // reads as broker configuration and refuses to start.
                        EnableServiceLinks = false,
                        AutomountServiceAccountToken = false,
                        SecurityContext = workload.FsGroup is { } group ? new V1PodSecurityContext { FsGroup = group } : null,
                        Containers =
                        [
                            new V1Container
                            {
                                Name = container.Name,
                                Image = container.Image,
                                Command = container.Entrypoint is { } entrypoint ? [entrypoint] : null,
                                Args = container.Args.Count > 0 ? [.. container.Args.Select(arg => Literal(resolver.Resolve(arg), container, "an argument"))] : null,
                                Ports = ports,
                                EnvFrom = environment.ConfigMapSource(container.Name),
                                Env = environment.Variables.Count > 0 ? [.. environment.Variables] : null,
                                Resources = workload.ToResourceRequirements(),
                                // A listening port is the one readiness signal every image gives; the services check real connections.
                                ReadinessProbe = ports.Count > 0
                                    ? new V1Probe { TcpSocket = new V1TCPSocketAction { Port = ports[0].Name }, PeriodSeconds = 5 }
                                    : null,
                                VolumeMounts = volumes.Count > 0
                                    ? [.. volumes.Select(v => new V1VolumeMount { Name = v.Name, MountPath = v.volume.Target, ReadOnlyProperty = v.volume.ReadOnly })]
                                    : null,
                            },
                        ],
                    },
                },
                VolumeClaimTemplates = volumes.Count > 0
                    ? [.. volumes.Select(v => new V1PersistentVolumeClaim
                    {
                        Metadata = new V1ObjectMeta { Name = v.Name },
                        Spec = new V1PersistentVolumeClaimSpec
                        {
                            AccessModes = ["ReadWriteOnce"],
                            Resources = new V1VolumeResourceRequirements
                            {
                                Requests = new Dictionary<string, ResourceQuantity> { ["storage"] = new(workload.Storage) },
                            },
                        },
                    })]
                    : null,
            },
        };

        // Headless: the name resolves straight to the pod, which is what Kafka's advertised listeners expect.
        var service = new V1Service
        {
            Metadata = WorkloadLabels.Metadata(container.Name, Component),
            Spec = new V1ServiceSpec
            {
                ClusterIP = "None",
                Selector = WorkloadLabels.Selector(container.Name),
                Ports = [.. ports.Select(p => new V1ServicePort { Name = p.Name, Port = p.ContainerPort, TargetPort = p.Name, Protocol = "TCP" })],
            },
        };
        return new BackingServiceWorkload(environment, [statefulSet, service]);
    }

    // The kubelet expands $(VAR) in arguments too, but none of Herald's containers needs a secret on its command line.
    private static string Literal(PodValue value, ManifestResource container, string what) => value.IsLiteral
        ? value.LiteralText
        : throw new DistributedApplicationException($"Container '{container.Name}' has a secret in {what}; pass it as an environment variable.");
}
