using Herald.Kafka;
using k8s.Models;

namespace Herald.AppHost.Deployment.Kubernetes;

/// <summary>
/// Configuration section <c>Herald:Kubernetes</c> of the AppHost: the deployment policy the generator adds to the model
/// (sizes, replicas, probe cadence). What the services themselves decide — probe paths, shutdown timings — is not here:
/// it is read from ServiceDefaults and the configuration the services receive.
/// </summary>
public sealed class KubernetesOptions
{
    public const string Section = "Herald:Kubernetes";

    /// <summary>The Secret holding every secret parameter, one key per parameter name.</summary>
    public string SecretName { get; set; } = "herald-secrets";

    /// <summary>Prefixed to the projects' image names, e.g. <c>myregistry.azurecr.io</c>; empty for a local registry.</summary>
    public string ImageRegistry { get; set; } = "";

    public string ImageTag { get; set; } = "latest";

    /// <summary>After the host's shutdown timeout, time to dispose connections and exit before the kubelet kills the pod.</summary>
    public TimeSpan ExitAllowance { get; set; } = TimeSpan.FromSeconds(5);

    public ProbeOptions Probes { get; set; } = new();

    public int TargetCpuUtilization { get; set; } = 70;

    /// <summary>Requests, limits and storage per resource name; a resource without an entry gets <see cref="WorkloadOptions"/>' defaults.</summary>
    public Dictionary<string, WorkloadOptions> Workloads { get; set; } = new(StringComparer.Ordinal)
    {
        ["api"] = new(),
        ["processor"] = new(),
        ["postgres"] = new() { CpuRequest = "250m", MemoryRequest = "512Mi", CpuLimit = "1", MemoryLimit = "1Gi", Storage = "10Gi" },
        ["redis"] = new() { CpuRequest = "100m", MemoryRequest = "128Mi", CpuLimit = "500m", MemoryLimit = "256Mi", Storage = "1Gi" },
        // confluent-local runs as appuser (uid/gid 1000): the volume must be writable by that group.
        ["kafka"] = new() { CpuRequest = "500m", MemoryRequest = "1Gi", CpuLimit = "1", MemoryLimit = "2Gi", Storage = "10Gi", FsGroup = 1000 },
    };

    /// <summary>The kustomize overlays, by name.</summary>
    public Dictionary<string, EnvironmentOptions> Environments { get; set; } = new(StringComparer.Ordinal)
    {
        ["dev"] = new()
        {
            Namespace = "herald-dev",
            GenerateSecrets = true,
            Replicas = { ["api"] = new() { Min = 1, Max = 2 }, ["processor"] = new() { Min = 1, Max = 2 } },
        },
        ["prod"] = new()
        {
            Namespace = "herald",
            GenerateSecrets = false,
            // More Processor replicas than the topic has partitions would sit idle in the consumer group.
            Replicas = { ["api"] = new() { Min = 2, Max = 10 }, ["processor"] = new() { Min = 2, Max = Topics.Messages.Partitions } },
        },
    };

    public WorkloadOptions WorkloadFor(string resource) => Workloads.TryGetValue(resource, out var workload) ? workload : new();
}

public sealed class ProbeOptions
{
    /// <summary>How long a pod may take to start serving: migrations and the first connections to every dependency.</summary>
    public TimeSpan StartupBudget { get; set; } = TimeSpan.FromMinutes(2);

    public int StartupPeriodSeconds { get; set; } = 2;

    public int LivenessPeriodSeconds { get; set; } = 10;

    public int LivenessTimeoutSeconds { get; set; } = 2;

    public int LivenessFailureThreshold { get; set; } = 3;

    public int ReadinessPeriodSeconds { get; set; } = 5;

    /// <summary>Readiness checks PostgreSQL, Redis and Kafka (a Kafka metadata request may take 3 s), so it gets longer
    /// than liveness.</summary>
    public int ReadinessTimeoutSeconds { get; set; } = 5;

    public int ReadinessFailureThreshold { get; set; } = 2;
}

public sealed class WorkloadOptions
{
    public string CpuRequest { get; set; } = "250m";

    public string MemoryRequest { get; set; } = "256Mi";

    public string CpuLimit { get; set; } = "1";

    public string MemoryLimit { get; set; } = "512Mi";

    /// <summary>Size of each persistent volume of a backing service.</summary>
    public string Storage { get; set; } = "1Gi";

    public long? FsGroup { get; set; }

    public V1ResourceRequirements ToResourceRequirements() => new()
    {
        Requests = new Dictionary<string, ResourceQuantity> { ["cpu"] = new(CpuRequest), ["memory"] = new(MemoryRequest) },
        Limits = new Dictionary<string, ResourceQuantity> { ["cpu"] = new(CpuLimit), ["memory"] = new(MemoryLimit) },
    };
}

public sealed class EnvironmentOptions
{
    public string Namespace { get; set; } = "herald";

    /// <summary>Write <c>secrets.env</c> with generated values (once; later runs keep it) and a secretGenerator that
    /// reads it. Otherwise the Secret is expected to exist in the namespace, created outside the tree.</summary>
    public bool GenerateSecrets { get; set; }

    /// <summary>Autoscaling bounds per project; a project without an entry runs one replica.</summary>
    public Dictionary<string, ReplicaRange> Replicas { get; set; } = new(StringComparer.Ordinal);
}

public sealed class ReplicaRange
{
    public int Min { get; set; } = 1;

    public int Max { get; set; } = 1;
}
