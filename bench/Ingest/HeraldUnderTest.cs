using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text.Json;
using Aspire.Hosting;
using Aspire.Hosting.ApplicationModel;
using Aspire.Hosting.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace Herald.Bench.Ingest;

/// <summary>The whole Herald AppHost, started as the tests start it, with one application to publish to.</summary>
public sealed class HeraldUnderTest : IAsyncDisposable
{
    private readonly DistributedApplication _app;

    private HeraldUnderTest(DistributedApplication app, Uri messagesUrl, string apiKey) => (_app, MessagesUrl, ApiKey) = (app, messagesUrl, apiKey);

    public Uri MessagesUrl { get; }

    public string ApiKey { get; }

    public static async Task<HeraldUnderTest> StartAsync()
    {
        var adminKey = "bench-admin-" + Convert.ToHexString(RandomNumberGenerator.GetBytes(16));
        var builder = await DistributedApplicationTestingBuilder.CreateAsync<Projects.AppHost>(
        [
            "--Herald:Infrastructure=Local",
            $"--Parameters:admin-api-key={adminKey}",
            // The benchmark measures ingest, not the per-key limit.
            "--Herald:RateLimit:RequestsPerSecond=10000000",
            "--Logging:LogLevel:Default=Warning",
        ], (options, _) => options.DisableDashboard = true);
        // The table is the output; the orchestrator's own logging (health probes failing during teardown) is noise here.
        builder.Services.AddLogging(logging => logging.SetMinimumLevel(LogLevel.None));
        var app = await builder.BuildAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        await app.StartAsync(timeout.Token);
        foreach (var resource in new[] { "herald", "redis", "kafka", "api", "processor" })
            await app.ResourceNotifications.WaitForResourceHealthyAsync(resource, timeout.Token);

        // Straight to the API process, past the orchestrator's development proxy, as a load balancer would be.
        var api = new Uri(DirectUrl(app, "api") ?? app.GetEndpoint("api", "http").ToString());
        using var http = new HttpClient { BaseAddress = api };
        http.DefaultRequestHeaders.Authorization = new("Bearer", adminKey);
        var application = await ReadIdAsync(await http.PostAsJsonAsync("/api/v1/apps", new { name = "bench" }));
        var key = await http.PostAsJsonAsync($"/api/v1/apps/{application}/api-keys", new { name = "bench" });
        var apiKey = (await key.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("key").GetString()!;
        return new HeraldUnderTest(app, new Uri(api, $"/api/v1/apps/{application}/messages"), apiKey);
    }

    public async Task StopProcessorAsync()
    {
        var processor = await _app.ResourceNotifications.WaitForResourceAsync("processor", _ => true);
        await _app.ResourceCommands.ExecuteCommandAsync(processor.ResourceId, KnownResourceCommands.StopCommand);
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
        await _app.StopAsync();
        await _app.DisposeAsync();
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
