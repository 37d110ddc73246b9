using Herald.Operator;
using Herald.Operator.Leadership;
using Herald.Operator.Telemetry;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Herald.Tests.Operator;

/// <summary>One operator replica in-process: the service's own registration (<c>AddHeraldOperator</c>), pointed at a test API server and Herald.</summary>
public sealed class OperatorHost : IAsyncDisposable
{
    private readonly IHost _host;

    private OperatorHost(IHost host) => _host = host;

    public bool IsLeader => _host.Services.GetRequiredService<OperatorMetrics>().IsLeader;
    public string Identity => _host.Services.GetRequiredService<LeaderElection>().Identity;
    /// <summary>What the replica's <c>/readyz</c> would answer.</summary>
    public async Task<Microsoft.Extensions.Diagnostics.HealthChecks.HealthReport> ReadinessAsync() =>
        await _host.Services.GetRequiredService<Microsoft.Extensions.Diagnostics.HealthChecks.HealthCheckService>().CheckHealthAsync();

    /// <summary>Whether the host has begun stopping on its own (a background service failed).</summary>
    public bool Stopping => _host.Services.GetRequiredService<IHostApplicationLifetime>().ApplicationStopping.IsCancellationRequested;

    public static async Task<OperatorHost> StartAsync(string kubernetesUrl, string ns, Uri heraldApi, string adminKey,
        IDictionary<string, string?>? settings = null)
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        var s = new Dictionary<string, string?>
        {
            ["Herald:Operator:KubernetesUrl"] = kubernetesUrl,
            ["Herald:Operator:Namespace"] = ns,
            ["Herald:Operator:ApiUrl"] = heraldApi.ToString(),
            ["Herald:Operator:AdminKey"] = adminKey,
            ["Herald:Operator:LeaseDuration"] = "00:00:03",
            ["Herald:Operator:RenewDeadline"] = "00:00:02",
            ["Herald:Operator:RetryPeriod"] = "00:00:00.300",
            ["Herald:Operator:BaseBackoff"] = "00:00:00.200",
            ["Herald:Operator:MaxBackoff"] = "00:00:05",
            ["Herald:Operator:ResyncPeriod"] = "00:00:30",
        };
        foreach (var (key, value) in settings ?? new Dictionary<string, string?>()) s[key] = value;
        builder.Configuration.AddInMemoryCollection(s);
        builder.AddHeraldOperator();
        var host = builder.Build();
        await host.StartAsync();
        return new OperatorHost(host);
    }

    public async ValueTask DisposeAsync()
    {
        await _host.StopAsync();
        _host.Dispose();
    }
}
