using System.Security.Cryptography;
using Aspire.Hosting;
using Aspire.Hosting.ApplicationModel;
using Aspire.Hosting.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace Herald.Tests.Infrastructure;

/// <summary>
/// The whole Herald AppHost — API, Processor, PostgreSQL, Redis and the Kafka-protocol broker — started once for
/// every test in the <see cref="HeraldAppCollection"/>, with a webhook receiver on loopback as the configured endpoint.
/// </summary>
public sealed class HeraldAppFixture : IAsyncLifetime
{
    public static readonly string[] Resources = ["postgres", "herald", "redis", "kafka", "api", "processor"];

    private static readonly TimeSpan StartTimeout = TimeSpan.FromMinutes(3);

    public WebhookReceiver Receiver { get; } = new();

    public string EndpointSecret { get; } = "whsec_" + Convert.ToBase64String(RandomNumberGenerator.GetBytes(32));

    public DistributedApplication App { get; private set; } = null!;

    public HttpClient Api { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        await Receiver.StartAsync();
        var builder = await DistributedApplicationTestingBuilder.CreateAsync<Projects.AppHost>(
        [
            "--Herald:Infrastructure=Local",
            $"--Herald:Delivery:EndpointUrl={Receiver.Url}",
            $"--Herald:Delivery:EndpointSecret={EndpointSecret}",
            "--Herald:Shutdown:DrainDelay=00:00:02",
        ], (options, _) => options.DisableDashboard = true);

        App = await builder.BuildAsync();
        using var timeout = new CancellationTokenSource(StartTimeout);
        await App.StartAsync(timeout.Token);
        await WaitUntilHealthyAsync(timeout.Token);
        Api = App.CreateHttpClient("api");
    }

    public async Task WaitUntilHealthyAsync(CancellationToken cancellationToken)
    {
        foreach (var resource in Resources)
        {
            await App.ResourceNotifications.WaitForResourceHealthyAsync(resource, cancellationToken);
        }
    }

    /// <summary>The latest state the orchestrator published for a resource (by name, not by instance id).</summary>
    public Task<ResourceEvent> CurrentStateAsync(string resource, CancellationToken cancellationToken = default) =>
        App.ResourceNotifications.WaitForResourceAsync(resource, _ => true, cancellationToken);

    public async Task DisposeAsync()
    {
        Api?.Dispose();
        if (App is not null)
        {
            await App.StopAsync();
            await App.DisposeAsync();
        }
        await Receiver.DisposeAsync();
    }
}

[CollectionDefinition(Name)]
public sealed class HeraldAppCollection : ICollectionFixture<HeraldAppFixture>
{
    public const string Name = "Herald app";
}
