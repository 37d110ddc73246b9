using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text.Json;
using Aspire.Hosting;
using Aspire.Hosting.ApplicationModel;
using Aspire.Hosting.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace Herald.Bench;

/// <summary>The whole Herald AppHost, started as the tests start it, with one application to publish to.</summary>
public sealed class HeraldUnderTest : IAsyncDisposable
{
    private const int ProcessorReplicas = 2;
    private readonly DistributedApplication _app;

    private HeraldUnderTest(DistributedApplication app, Uri api, string applicationId, string apiKey) =>
        (_app, Api, ApplicationId, ApiKey) = (app, api, applicationId, apiKey);

    /// <summary>The API process itself, past the orchestrator's development proxy, as a load balancer would reach it.</summary>
    public Uri Api { get; }

    public string ApplicationId { get; }

    public string ApiKey { get; }

    public Uri MessagesUrl => new(Api, $"/api/v1/apps/{ApplicationId}/messages");

    /// <param name="settings">Extra AppHost arguments, e.g. <c>--Herald:Delivery:AllowedNetworks:0=127.0.0.0/8</c>.</param>
    public static async Task<HeraldUnderTest> StartAsync(params string[] settings)
    {
        var adminKey = "bench-admin-" + Convert.ToHexString(RandomNumberGenerator.GetBytes(16));
        var builder = await DistributedApplicationTestingBuilder.CreateAsync<Projects.AppHost>(
        [
            "--Herald:Infrastructure=Local",
            $"--Parameters:admin-api-key={adminKey}",
            // The benchmark measures Herald, not the per-key limit.
            "--Herald:RateLimit:RequestsPerSecond=10000000",
            "--Logging:LogLevel:Default=Warning",
            .. settings,
        ], (options, _) => options.DisableDashboard = true);
        // The table is the output; the orchestrator's own logging (health probes failing during teardown) is noise here.
        builder.Services.AddLogging(logging => logging.SetMinimumLevel(LogLevel.None));
        // No collector listens in a benchmark: pushing telemetry at nothing (and retrying) is not Herald's cost to
        // measure. Spans, metrics and logs are still produced; /metrics still serves.
        foreach (var project in builder.Resources.OfType<ProjectResource>())
            builder.CreateResourceBuilder(project).WithEnvironment(context => context.EnvironmentVariables.Remove("OTEL_EXPORTER_OTLP_ENDPOINT"));
        var app = await builder.BuildAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        await app.StartAsync(timeout.Token);
        foreach (var resource in new[] { "herald", "redis", "kafka", "api" })
            await app.ResourceNotifications.WaitForResourceHealthyAsync(resource, timeout.Token);
        await ProcessorsAsync(app, healthy: true, timeout.Token);

        var api = new Uri(DirectUrl(app, "api") ?? app.GetEndpoint("api", "http").ToString());
        using var http = new HttpClient { BaseAddress = api };
        http.DefaultRequestHeaders.Authorization = new("Bearer", adminKey);
        var application = await ReadIdAsync(await http.PostAsJsonAsync("/api/v1/apps", new { name = "bench" }));
        var key = await http.PostAsJsonAsync($"/api/v1/apps/{application}/api-keys", new { name = "bench" });
        var apiKey = (await key.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("key").GetString()!;
        return new HeraldUnderTest(app, api, application, apiKey);
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

    public async Task<string> CreateEndpointAsync(Uri url)
    {
        using var http = CreateClient();
        return await ReadIdAsync(await http.PostAsJsonAsync($"/api/v1/apps/{ApplicationId}/endpoints", new { url }));
    }

    public Task StopProcessorsAsync() => CommandProcessorsAsync(KnownResourceCommands.StopCommand, healthy: false);

    public Task StartProcessorsAsync() => CommandProcessorsAsync(KnownResourceCommands.StartCommand, healthy: true);

    public async Task<long> CountMessagesAsync()
    {
        await using var connection = new NpgsqlConnection(await _app.GetConnectionStringAsync("herald"));
        await connection.OpenAsync();
        await using var count = new NpgsqlCommand("SELECT count(*) FROM messages", connection);
        return (long)(await count.ExecuteScalarAsync())!;
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }

    private async Task CommandProcessorsAsync(string command, bool healthy)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        var instances = await ProcessorsAsync(_app, healthy: !healthy, timeout.Token);
        foreach (var instance in instances) await _app.ResourceCommands.ExecuteCommandAsync(instance, command, timeout.Token);
        await ProcessorsAsync(_app, healthy, timeout.Token);
    }

    // The Processor's replica instance ids, once all are healthy (or all have stopped).
    private static async Task<IReadOnlyCollection<string>> ProcessorsAsync(DistributedApplication app, bool healthy, CancellationToken cancellationToken)
    {
        var states = new Dictionary<string, bool>();
        await foreach (var update in app.ResourceNotifications.WatchAsync(cancellationToken))
        {
            if (update.Resource.Name != "processor") continue;
            states[update.ResourceId] = update.Snapshot.State?.Text == KnownResourceStates.Running && update.Snapshot.HealthStatus == HealthStatus.Healthy;
            if (states.Count == ProcessorReplicas && states.Values.All(s => s == healthy)) return states.Keys;
        }
        throw new OperationCanceledException();
    }

    private static async Task<string> ReadIdAsync(HttpResponseMessage response)
    {
        response.EnsureSuccessStatusCode();
        return (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetString()!;
    }

    // The URL the API process itself listens on (its ASPNETCORE_URLS), read from /proc on Linux.
    private static string? DirectUrl(DistributedApplication app, string resource)
    {
        var state = app.ResourceNotifications.WaitForResourceAsync(resource, _ => true).GetAwaiter().GetResult();
        var pid = state.Snapshot.Properties.FirstOrDefault(p => p.Name == "executable.pid")?.Value?.ToString();
        var environ = $"/proc/{pid}/environ";
        if (pid is null || !File.Exists(environ)) return null;
        return File.ReadAllText(environ).Split('\0')
            .FirstOrDefault(v => v.StartsWith("ASPNETCORE_URLS=", StringComparison.Ordinal))?["ASPNETCORE_URLS=".Length..].Split(';')[0];
    }
}
