using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text.Json;
using Aspire.Hosting;
using Aspire.Hosting.ApplicationModel;
using Aspire.Hosting.Testing;
using Herald.AppHost.Infrastructure.Local;
using Herald.Bench.Faults.Injectors;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace Herald.Bench;

/// <summary>An application (tenant) and a key scoped to it.</summary>
public sealed record BenchApplication(string Id, string ApiKey);

/// <summary>The whole Herald AppHost, started as the tests start it, with one application to publish to.</summary>
public sealed class HeraldUnderTest : IAsyncDisposable
{
    /// <summary>Processor replicas the AppHost runs.</summary>
    public const int ProcessorReplicas = HeraldReadiness.ProcessorReplicas;

    private static readonly TimeSpan StartTimeout = TimeSpan.FromMinutes(3);

    /// <summary>The AppHost arguments every benchmark passes (besides its own), for printing under a table.</summary>
    public static readonly IReadOnlyList<string> Settings =
    [
        "--Herald:Infrastructure=Local",
        // The benchmark measures Herald, not the per-key limit.
        "--Herald:RateLimit:RequestsPerSecond=10000000",
        "--Logging:LogLevel:Default=Warning",
    ];

    private readonly DistributedApplication _app;
    private readonly string _adminKey;
    private readonly string _run;
    private readonly AppHostLog _log;
    private readonly Lock _apiGate = new();
    private (int Pid, Uri Url, long CheckedAt) _api;

    private HeraldUnderTest(DistributedApplication app, AppHostLog log, string adminKey, string run, string apiInstance, (int Pid, Uri Url) api, BenchApplication application)
    {
        (_app, _log, _adminKey, _run, ApiInstance, Api, ApplicationId, ApiKey) = (app, log, adminKey, run, apiInstance, api.Url, application.Id, application.ApiKey);
        _api = (api.Pid, api.Url, 0);
    }

    /// <summary>The started AppHost: its services (the embedded Kafka cluster), resource commands and notifications.</summary>
    public DistributedApplication App => _app;

    /// <summary>The API's instance id ("api-abcd1234"); it has one.</summary>
    public string ApiInstance { get; }

    /// <summary>The API process itself, past the orchestrator's development proxy, as a load balancer would reach it.</summary>
    public Uri Api { get; }

    public string ApplicationId { get; }

    public string ApiKey { get; }

    /// <summary>The application the benchmark publishes to, with its key.</summary>
    public BenchApplication Application => new(ApplicationId, ApiKey);

    public Uri MessagesUrl => new(Api, $"/api/v1/apps/{ApplicationId}/messages");

    /// <param name="settings">Extra AppHost arguments, e.g. <c>--Herald:Delivery:AllowedNetworks:0=127.0.0.0/8</c>.</param>
    public static Task<HeraldUnderTest> StartAsync(params string[] settings) => StartAsync(settings, beforeStart: null);

    /// <param name="beforeStart">Runs once the AppHost is built, before any resource starts.</param>
    public static async Task<HeraldUnderTest> StartAsync(IReadOnlyList<string> settings, Action<DistributedApplication>? beforeStart)
    {
        var adminKey = "bench-admin-" + Convert.ToHexString(RandomNumberGenerator.GetBytes(16));
        var run = Guid.NewGuid().ToString("N");
        var builder = await DistributedApplicationTestingBuilder.CreateAsync<Projects.AppHost>(
        [
            .. Settings,
            $"--Parameters:admin-api-key={adminKey}",
            $"--Parameters:sealing-keys=bench-sealing-{Convert.ToHexString(RandomNumberGenerator.GetBytes(24))}",
            // Marks every service process of this run, so none outlives it (see DisposeAsync).
            $"--Herald:BenchRun={run}",
            .. settings,
        ], (options, _) => options.DisableDashboard = true);
        // The table is the output: the AppHost's log goes to a file, errors that matter to the console in a line each.
        var log = new AppHostLog(Path.Combine(Path.GetTempPath(), "herald-bench",
            $"{DateTime.Now.ToString("yyyyMMdd-HHmmss", CultureInfo.InvariantCulture)}-{run[..8]}-apphost.log"));
        builder.Services.AddLogging(logging => logging.ClearProviders().AddProvider(log));
        // No collector listens in a benchmark: pushing telemetry at nothing (and retrying) is not Herald's cost to
        // measure. Spans, metrics and logs are still produced; /metrics still serves.
        foreach (var project in builder.Resources.OfType<ProjectResource>())
            builder.CreateResourceBuilder(project).WithEnvironment(context => context.EnvironmentVariables.Remove("OTEL_EXPORTER_OTLP_ENDPOINT"));
        var app = await builder.BuildAsync();
        beforeStart?.Invoke(app);
        using var timeout = new CancellationTokenSource(StartTimeout);
        await app.StartAsync(timeout.Token);
        await HeraldReadiness.WaitUntilReadyAsync(app, ["herald", "redis", "kafka", "api"], StartTimeout, timeout.Token);

        var apiInstance = (await ResourceRestarts.InstancesAsync(app, "api", 1, timeout.Token))[0];
        var api = DirectAddress(apiInstance) ?? (0, app.GetEndpoint("api", "http"));
        var application = await CreateApplicationAsync(api.Url, adminKey, "bench");
        return new HeraldUnderTest(app, log, adminKey, run, apiInstance, api, application);
    }

    /// <summary>Another application, with a key of its own.</summary>
    public Task<BenchApplication> CreateApplicationAsync(string name) => CreateApplicationAsync(CurrentApi(), _adminKey, name);

    /// <summary>The API process's management address (its /readyz) now, found as <see cref="CurrentApi"/> is.</summary>
    public Uri CurrentApiManagement()
    {
        var api = CurrentApi();
        lock (_apiGate) return HeraldProcesses.ManagementAddress(_api.Pid) ?? api;
    }

    /// <summary>The API process's own address now. A restarted API is a new process, maybe on another port; it is looked
    /// for again (at most every 250 ms) once the known one has died. Until one is found, the last known address.</summary>
    public Uri CurrentApi()
    {
        lock (_apiGate)
        {
            if (ProcessTree.IsAlive(_api.Pid) || Stopwatch.GetElapsedTime(_api.CheckedAt) < TimeSpan.FromMilliseconds(250)) return _api.Url;
            _api = DirectAddress(ApiInstance) is { } found ? (found.Pid, found.Url, Stopwatch.GetTimestamp()) : _api with { CheckedAt = Stopwatch.GetTimestamp() };
            return _api.Url;
        }
    }

    /// <summary>An HttpClient for the API with the application's key.</summary>
    public HttpClient CreateClient(int maxConnections = 256)
    {
        var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = maxConnections, PooledConnectionLifetime = Timeout.InfiniteTimeSpan })
        {
            BaseAddress = Api,
        };
        http.DefaultRequestHeaders.Authorization = new("Bearer", ApiKey);
        return http;
    }

    /// <summary>An endpoint of <paramref name="application"/> that takes the given event types (every one if none).</summary>
    public async Task<string> CreateEndpointAsync(BenchApplication application, Uri url, params string[] eventTypes)
    {
        using var http = new HttpClient { BaseAddress = CurrentApi() };
        http.DefaultRequestHeaders.Authorization = new("Bearer", application.ApiKey);
        return await ReadIdAsync(await http.PostAsJsonAsync($"/api/v1/apps/{application.Id}/endpoints",
            eventTypes.Length > 0 ? new { url, eventTypes } : (object)new { url }));
    }

    public async Task StopProcessorsAsync()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        var instances = await HeraldReadiness.ProcessorsReadyAsync(_app, TimeSpan.FromMinutes(2), timeout.Token);
        foreach (var instance in instances.Keys) await _app.ResourceCommands.ExecuteCommandAsync(instance, KnownResourceCommands.StopCommand, timeout.Token);
        await ProcessorsStoppedAsync(timeout.Token);
    }

    public async Task StartProcessorsAsync()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        foreach (var instance in await ProcessorsStoppedAsync(timeout.Token))
            await _app.ResourceCommands.ExecuteCommandAsync(instance, KnownResourceCommands.StartCommand, timeout.Token);
        await HeraldReadiness.ProcessorsReadyAsync(_app, TimeSpan.FromMinutes(2), timeout.Token);
    }

    public async Task<long> CountMessagesAsync()
    {
        await using var connection = new NpgsqlConnection(await _app.GetConnectionStringAsync("herald"));
        await connection.OpenAsync();
        await using var count = new NpgsqlCommand("SELECT count(*) FROM messages", connection);
        return (long)(await count.ExecuteScalarAsync())!;
    }

    public async ValueTask DisposeAsync()
    {
        var model = _app.Services.GetRequiredService<DistributedApplicationModel>();
        var postgres = model.Resources.OfType<LocalPostgresResource>().Select(r => r.DataDirectory).ToList();
        var redis = model.Resources.OfType<LocalRedisResource>().Select(r => r.WorkingDirectory).ToList();
        await _app.StopAsync();
        await _app.DisposeAsync();
        _log.Dispose();
        // An instance restarted through a resource command can escape the orchestrator's stop; a benchmark that starts
        // Herald again and again must not leave such processes behind.
        Signals.Send(ProcessTree.All().Where(pid => ProcessTree.Environment(pid).GetValueOrDefault("Herald__BenchRun") == _run), Signal.Kill);
        Signals.Send(postgres.SelectMany(HeraldProcesses.PostgresCluster), Signal.Kill);
        Signals.Send(redis.Select(HeraldProcesses.Redis).OfType<int>(), Signal.Kill);
    }

    // The Processor's replica instance ids once the orchestrator shows none of them running healthy (stopped, or on
    // its way down: a stopped replica has no process to ask, so its snapshot is what there is).
    private async Task<IReadOnlyCollection<string>> ProcessorsStoppedAsync(CancellationToken cancellationToken)
    {
        var running = new Dictionary<string, bool>();
        await foreach (var update in _app.ResourceNotifications.WatchAsync(cancellationToken))
        {
            if (update.Resource.Name != "processor") continue;
            running[update.ResourceId] = update.Snapshot.State?.Text == KnownResourceStates.Running && update.Snapshot.HealthStatus == HealthStatus.Healthy;
            if (running.Count == ProcessorReplicas && !running.Values.Any(r => r)) return running.Keys;
        }
        throw new OperationCanceledException();
    }

    private static async Task<string> ReadIdAsync(HttpResponseMessage response)
    {
        response.EnsureSuccessStatusCode();
        return (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetString()!;
    }

    private static async Task<BenchApplication> CreateApplicationAsync(Uri api, string adminKey, string name)
    {
        using var http = new HttpClient { BaseAddress = api };
        http.DefaultRequestHeaders.Authorization = new("Bearer", adminKey);
        var application = await ReadIdAsync(await http.PostAsJsonAsync("/api/v1/apps", new { name }));
        var key = await http.PostAsJsonAsync($"/api/v1/apps/{application}/api-keys", new { name });
        key.EnsureSuccessStatusCode();
        return new BenchApplication(application, (await key.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("key").GetString()!);
    }

    // The address the API process itself listens on (its ASPNETCORE_URLS), read from /proc on Linux.
    private static (int Pid, Uri Url)? DirectAddress(string instance) =>
        HeraldProcesses.Service(instance) is { } pid && HeraldProcesses.HttpAddress(pid) is { } url ? (pid, url) : null;
}
