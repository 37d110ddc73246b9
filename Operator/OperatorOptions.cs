namespace Herald.Operator;

/// <summary>Settings under <c>Herald:Operator</c>.</summary>
public sealed class OperatorOptions
{
    public const string Section = "Herald:Operator";

    /// <summary>The namespace whose resources are reconciled (and where the Lease lives): the Role grants no more.
    /// Unset: the pod's own namespace in a cluster, else <c>default</c>.</summary>
    public string Namespace { get; set; } = "";

    /// <summary>Herald's API (its HTTP endpoint's base URL).</summary>
    public Uri ApiUrl { get; set; } = new("http://api");

    /// <summary>An admin API key; in Kubernetes it comes from a Secret through the environment.</summary>
    public string AdminKey { get; set; } = "";

    /// <summary>The API server; unset: in-cluster configuration, else the kubeconfig.</summary>
    public string? KubernetesUrl { get; set; }

    public string LeaseName { get; set; } = "herald-operator";
    /// <summary>This replica's name in the Lease; unset: the host name and a random suffix.</summary>
    public string? Identity { get; set; }
    public TimeSpan LeaseDuration { get; set; } = TimeSpan.FromSeconds(15);
    public TimeSpan RenewDeadline { get; set; } = TimeSpan.FromSeconds(10);
    public TimeSpan RetryPeriod { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>How often every resource is reconciled again, whatever the watch said: corrects drift made in Herald.</summary>
    public TimeSpan ResyncPeriod { get; set; } = TimeSpan.FromMinutes(5);
    /// <summary>A failed reconcile is retried after this, doubling per consecutive failure up to <see cref="MaxBackoff"/>.</summary>
    public TimeSpan BaseBackoff { get; set; } = TimeSpan.FromSeconds(1);
    public TimeSpan MaxBackoff { get; set; } = TimeSpan.FromMinutes(5);
}
