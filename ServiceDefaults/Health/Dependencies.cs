using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Herald.ServiceDefaults.Health;

/// <summary>What a service needs of a dependency: without a <see cref="Required"/> one it cannot serve (readiness fails);
/// without an <see cref="Optional"/> one it serves in a degraded way (readiness says Degraded, still 200).</summary>
public enum DependencyRole
{
    Required,
    Optional,
}

/// <summary>
/// One dependency's availability as this process last saw it: probed in the background, and marked down at once by
/// any caller whose request to it failed. Readiness, the <c>herald_dependency_up</c> gauge and the hot paths' fallbacks
/// all read this one answer, so a probe never runs per request and nobody waits on a dependency that is known down.
/// </summary>
/// <param name="available">What is known before the first probe: by default nothing, so a service is not ready on a
/// dependency it has not seen yet (the first probe runs within a moment of start-up).</param>
public sealed class Dependency(string name, DependencyRole role, Func<IServiceProvider, CancellationToken, Task> probe, bool available = false)
{
    private volatile State _state = new(available, available ? null : "not probed yet", DateTimeOffset.UtcNow, Probed: false);

    public string Name { get; } = name;

    public DependencyRole Role { get; } = role;

    internal Func<IServiceProvider, CancellationToken, Task> Probe { get; } = probe;

    /// <summary>Whether the last probe (or a caller since) found it answering.</summary>
    public bool IsAvailable => _state.Available;

    public string? Reason => _state.Reason;

    public DateTimeOffset Since => _state.Since;

    /// <summary>A caller's request failed (timeout, connection): treat the dependency as down until a probe succeeds.</summary>
    public void ReportFailure(string reason)
    {
        var current = _state;
        if (current.Available) _state = new State(false, reason, DateTimeOffset.UtcNow, current.Probed);
    }

    /// <summary>Returns whether this changed the dependency's availability (the first probe always does).</summary>
    internal bool Set(bool available, string? reason)
    {
        var current = _state;
        if (current.Available == available && current.Probed)
        {
            if (!available && reason != current.Reason) _state = current with { Reason = reason };
            return false;
        }
        _state = new State(available, reason, DateTimeOffset.UtcNow, Probed: true);
        return true;
    }

    private sealed record State(bool Available, string? Reason, DateTimeOffset Since, bool Probed);
}

/// <summary>The dependencies of this process, by name.</summary>
public sealed class Dependencies
{
    public const string Postgres = "postgres";
    public const string Redis = "redis";
    public const string Kafka = "kafka";

    private readonly ConcurrentDictionary<string, Dependency> _all = new(StringComparer.Ordinal);

    public Dependencies(params IEnumerable<Dependency> dependencies)
    {
        foreach (var dependency in dependencies) Add(dependency);
    }

    public Dependency this[string name] => _all.TryGetValue(name, out var dependency)
        ? dependency
        : throw new InvalidOperationException($"No dependency named '{name}' was added to this service.");

    public IReadOnlyCollection<Dependency> All => [.. _all.Values];

    internal void Add(Dependency dependency)
    {
        if (!_all.TryAdd(dependency.Name, dependency))
            throw new InvalidOperationException($"The dependency '{dependency.Name}' was added twice.");
    }
}

public static class DependencyExtensions
{
    /// <summary>How often a dependency is probed while it answers, and while it does not.</summary>
    public static readonly TimeSpan ProbeInterval = TimeSpan.FromSeconds(1);
    public static readonly TimeSpan ProbeIntervalWhileDown = TimeSpan.FromMilliseconds(500);

    /// <summary>A probe that takes longer than this counts as a failure: a hung dependency is a down one.</summary>
    public static readonly TimeSpan ProbeTimeout = TimeSpan.FromSeconds(1);

    /// <summary>Adds a dependency with its probe (which throws, or runs past <see cref="ProbeTimeout"/>, when the dependency
    /// cannot serve) and a readiness check of the same name that reads the last probe's answer.</summary>
    public static void AddDependency(this IHostApplicationBuilder builder, string name, DependencyRole role,
        Func<IServiceProvider, CancellationToken, Task> probe)
    {
        var dependency = new Dependency(name, role, probe);
        var dependencies = Registered(builder.Services);
        dependencies.Add(dependency);
        builder.Services.AddHealthChecks().Add(new HealthCheckRegistration(name, _ => new DependencyHealthCheck(dependency),
            role == DependencyRole.Required ? HealthStatus.Unhealthy : HealthStatus.Degraded, tags: null));
    }

    private static Dependencies Registered(IServiceCollection services)
    {
        if (services.FirstOrDefault(s => s.ServiceType == typeof(Dependencies))?.ImplementationInstance is Dependencies existing) return existing;
        var dependencies = new Dependencies();
        services.AddSingleton(dependencies);
        services.AddHostedService<DependencyMonitor>();
        return dependencies;
    }
}

/// <summary>Readiness reads the monitor's answer: instant, whatever state the dependency is in.</summary>
internal sealed class DependencyHealthCheck(Dependency dependency) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        Task.FromResult(dependency.IsAvailable
            ? HealthCheckResult.Healthy()
            : new HealthCheckResult(context.Registration.FailureStatus,
                $"Unavailable since {dependency.Since:u}: {dependency.Reason}"));
}

/// <summary>Probes every dependency on its own loop, and reports them as <c>herald_dependency_up</c>.</summary>
internal sealed class DependencyMonitor : BackgroundService
{
    public const string MeterName = "Herald.Health";

    private readonly Dependencies _dependencies;
    private readonly IServiceProvider _services;
    private readonly ILogger<DependencyMonitor> _logger;

    public DependencyMonitor(Dependencies dependencies, IServiceProvider services, IMeterFactory meters, ILogger<DependencyMonitor> logger)
    {
        _dependencies = dependencies;
        _services = services;
        _logger = logger;
        meters.Create(MeterName).CreateObservableGauge("herald.dependency.up",
            () => _dependencies.All.Select(d => new Measurement<int>(d.IsAvailable ? 1 : 0,
                new KeyValuePair<string, object?>("dependency", d.Name),
                new KeyValuePair<string, object?>("role", d.Role == DependencyRole.Required ? "required" : "optional"))),
            description: "1 while this process can use the dependency, 0 while it cannot (probed every few seconds; a failed request marks it down at once).");
    }

    protected override Task ExecuteAsync(CancellationToken stoppingToken) =>
        Task.WhenAll(_dependencies.All.Select(dependency => WatchAsync(dependency, stoppingToken)));

    private async Task WatchAsync(Dependency dependency, CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            var (available, reason) = await ProbeAsync(dependency, stoppingToken);
            if (stoppingToken.IsCancellationRequested) return;
            if (dependency.Set(available, reason))
            {
                if (available) _logger.LogInformation("{Dependency} is available", dependency.Name);
                else _logger.LogWarning("{Dependency} is unavailable: {Reason}", dependency.Name, reason);
            }
            try
            {
                await Task.Delay(dependency.IsAvailable ? DependencyExtensions.ProbeInterval : DependencyExtensions.ProbeIntervalWhileDown, stoppingToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    private async Task<(bool Available, string? Reason)> ProbeAsync(Dependency dependency, CancellationToken stoppingToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
        timeout.CancelAfter(DependencyExtensions.ProbeTimeout);
        var started = Stopwatch.GetTimestamp();
        try
        {
            // WaitAsync: a probe that ignores its token still cannot hold the answer back.
            await dependency.Probe(_services, timeout.Token).WaitAsync(DependencyExtensions.ProbeTimeout, stoppingToken);
            return (true, null);
        }
        catch (Exception exception) when (!stoppingToken.IsCancellationRequested)
        {
            return exception is TimeoutException or OperationCanceledException
                ? (false, $"no answer within {Stopwatch.GetElapsedTime(started).TotalMilliseconds:0} ms")
                : (false, exception.Message);
        }
        catch (OperationCanceledException)
        {
            return (dependency.IsAvailable, dependency.Reason);
        }
    }
}
