namespace Herald.ServiceDefaults.Shutdown;

/// <summary>Configuration section <c>Herald:Shutdown</c>.</summary>
public sealed class ShutdownOptions
{
    public const string Section = "Herald:Shutdown";

    /// <summary>How long readiness reports 503 before intake stops, so load balancers notice first.</summary>
    public TimeSpan DrainDelay { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>The whole shutdown budget (<see cref="HostOptions.ShutdownTimeout"/>), drain delay included.</summary>
    public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(30);
}
