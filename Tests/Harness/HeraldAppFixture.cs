using System.Collections.Concurrent;
using System.Security.Cryptography;
using Aspire.Hosting;
using Herald.Bench;
using Herald.Bench.Faults.Injectors;
using Aspire.Hosting.ApplicationModel;
using Aspire.Hosting.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Herald.Tests.Harness;

/// <summary>
/// The whole Herald AppHost — API, Processor, PostgreSQL, Redis and the Kafka-protocol broker — started once for
/// every test in the <see cref="HeraldAppCollection"/>, with a webhook receiver on loopback as the configured endpoint.
/// </summary>
public sealed class HeraldAppFixture : IAsyncLifetime
{
    public static readonly string[] Resources = ["postgres", "herald", "redis", "kafka", "api", "processor"];

    private static readonly TimeSpan StartTimeout = TimeSpan.FromMinutes(3);

    public WebhookReceiver Receiver { get; } = new();

    /// <summary>The bootstrap admin key, given to the AppHost as its admin-api-key parameter.</summary>
    public string AdminKey { get; } = "test-admin-" + Convert.ToHexString(RandomNumberGenerator.GetBytes(24));

    /// <summary>The key the test app seals signing secrets and header values with, given as its sealing-keys parameter.</summary>
    public string SealingKey { get; } = "test-sealing-" + Convert.ToHexString(RandomNumberGenerator.GetBytes(24));

    /// <summary>What Herald's services authenticate their Kafka records with, in the test app.</summary>
    public Herald.Secrets.RecordAuthenticator Records => new(Herald.Secrets.SealingKeys.FromSetting(SealingKey));

    /// <summary>Requests per second per API key in the test app: low enough for a test to exceed it.</summary>
    public const int RateLimit = 300;

    /// <summary>The retry schedule of the test app: four attempts within a few seconds.</summary>
    public const string RetrySchedule = "0s 1s 2s 4s";

    /// <summary>How long an endpoint may fail without a success before the test app disables it.</summary>
    public static readonly TimeSpan DisableAfter = TimeSpan.FromSeconds(20);

    /// <summary>How long a Processor holds a due delivery it enqueued (its next_attempt_at meanwhile).</summary>
    public static readonly TimeSpan Lease = TimeSpan.FromSeconds(10);

    /// <summary>How often each Processor looks for due retries and FIFO lines without a head.</summary>
    public static readonly TimeSpan SchedulerInterval = TimeSpan.FromMilliseconds(250);

    /// <summary>Concurrent requests to one host per Processor replica: every test endpoint is on 127.0.0.1, and a test
    /// can only see the cap bind when it is below what that test's endpoints would otherwise take.</summary>
    public const int HostConcurrency = 12;

    /// <summary>Processor replicas the AppHost runs.</summary>
    public const int ProcessorReplicas = HeraldReadiness.ProcessorReplicas;

    public DistributedApplication App { get; private set; } = null!;

    private readonly string _run = Guid.NewGuid().ToString("N");

    public async Task InitializeAsync()
    {
        // This process runs the AppHost (its health checks and log streams), the Kafka mock, the receiver and the tests'
        // load: a library blocking a pool thread on a hung dependency (a health check's Redis client during a freeze)
        // must not starve the rest. The same floor the services set (ServiceDefaults).
        ThreadPool.GetMinThreads(out var workers, out var completionPorts);
        ThreadPool.SetMinThreads(Math.Max(workers, Microsoft.Extensions.Hosting.ServiceDefaultsExtensions.MinThreads), completionPorts);
        await Receiver.StartAsync();
        var builder = await DistributedApplicationTestingBuilder.CreateAsync<Projects.AppHost>(
        [
            "--Herald:Infrastructure=Local",
            // Marks every service process of this run, so none outlives it (see DisposeAsync).
            $"--Herald:TestRun={_run}",
            $"--Parameters:admin-api-key={AdminKey}",
            $"--Parameters:sealing-keys={SealingKey}",
            $"--Herald:RateLimit:RequestsPerSecond={RateLimit}",
            "--Herald:Shutdown:DrainDelay=00:00:02",
            // Short enough that a Kafka outage in a test outlasts it and the relay has to step in.
            "--Kafka:Producer:message.timeout.ms=3000",
            "--Herald:Messages:RelayGrace=00:00:02",
            // Retries in seconds rather than hours, so tests can watch a schedule run out.
            $"--Herald:Delivery:Schedule={RetrySchedule}",
            $"--Herald:Delivery:Lease={Lease}",
            // Due retries and FIFO lines are looked at four times a second: a FIFO test retries hundreds of heads.
            $"--Herald:Delivery:SchedulerInterval={SchedulerInterval}",
            $"--Herald:Delivery:HostConcurrency={HostConcurrency}",
            "--Herald:Delivery:CircuitBreaker:BreakDuration=00:00:03",
            $"--Herald:Delivery:DisableAfter={DisableAfter}",
            // Payloads past retention (a message's own, or backdated by a test) go within seconds rather than ten minutes.
            "--Herald:Messages:RetentionInterval=00:00:02",
            // Messages Kafka lost are swept within seconds rather than a minute.
            "--Herald:Fanout:SweepGrace=00:00:02",
            "--Herald:Fanout:SweepInterval=00:00:01",
            // The receiver is on loopback, which delivery refuses unless allowed; said here so it does not depend on
            // the services running in Development (whose appsettings allow loopback too).
            "--Herald:Delivery:AllowedNetworks:0=127.0.0.0/8",
            "--Herald:Delivery:AllowedNetworks:1=::1/128",
            // The tracing tests follow a message's trace into the webhook requests (off by default).
            "--Herald:Delivery:PropagateTraceContext=true",
        ], (options, _) => options.DisableDashboard = true);

        // Every test request would otherwise log four lines; the services' own logs stay, for failures.
        builder.Services.AddLogging(logging => logging.AddFilter("System.Net.Http", LogLevel.Warning));
        App = await builder.BuildAsync();
        using var timeout = new CancellationTokenSource(StartTimeout);
        await App.StartAsync(timeout.Token);
        await WaitUntilHealthyAsync(timeout.Token);
        Admin = Client(AdminKey);
        Grpc = global::Grpc.Net.Client.GrpcChannel.ForAddress(App.GetEndpoint("api", "grpc"));
    }

    /// <summary>The API as an admin-key holder sees it.</summary>
    public RestClient Admin { get; private set; } = null!;

    /// <summary>A gRPC channel to the API's HTTP/2 port (authenticate per call with <see cref="Bearer"/>).</summary>
    public global::Grpc.Net.Client.GrpcChannel Grpc { get; private set; } = null!;

    public static global::Grpc.Core.Metadata Bearer(string apiKey) => new() { { "authorization", $"Bearer {apiKey}" } };

    /// <summary>The API with the given key (or none).</summary>
    public RestClient Client(string? apiKey)
    {
        var http = App.CreateHttpClient("api");
        if (apiKey is not null) http.DefaultRequestHeaders.Authorization = new("Bearer", apiKey);
        return new RestClient(http);
    }

    /// <summary>Every resource healthy and every Processor replica ready (<see cref="HeraldReadiness"/>).</summary>
    public Task WaitUntilHealthyAsync(CancellationToken cancellationToken) =>
        HeraldReadiness.WaitUntilReadyAsync(App, Resources.Where(r => r != "processor"), StartTimeout, cancellationToken);

    /// <summary>Collects a resource's console output (what it has logged so far, then what follows) until cancelled.</summary>
    public Task WatchLogsAsync(string resourceId, ConcurrentQueue<string> logs, CancellationToken cancellationToken) =>
        HeraldReadiness.WatchLogsAsync(App, resourceId, logs, cancellationToken);

    /// <summary>The live service process of one resource instance ("processor-abcd1234"), not its `dotnet run` parent.</summary>
    public static int? ProcessOf(string resourceId) => HeraldProcesses.Service(resourceId);

    /// <summary>One process's own HTTP address, bypassing the orchestrator's proxy that balances across replicas.</summary>
    public static Uri ManagementUrl(int pid) =>
        HeraldProcesses.ManagementAddress(pid) ?? throw new InvalidOperationException($"Process {pid} has no ASPNETCORE_URLS.");

    /// <summary>The Processor's replicas once every one answers ready on its own port: instance id → process id
    /// (<see cref="HeraldReadiness.ProcessorsReadyAsync"/>, within the start-up timeout).</summary>
    public Task<IReadOnlyDictionary<string, int>> ProcessorInstancesAsync(CancellationToken cancellationToken = default) =>
        HeraldReadiness.ProcessorsReadyAsync(App, StartTimeout, cancellationToken);

    /// <summary>Each Processor replica's /metrics, read from the process itself.</summary>
    public async Task<IReadOnlyList<PrometheusText>> ScrapeProcessorsAsync()
    {
        var processors = new List<PrometheusText>();
        foreach (var (_, pid) in await ProcessorInstancesAsync())
        {
            using var http = new HttpClient { BaseAddress = ManagementUrl(pid) };
            processors.Add(PrometheusText.Parse(await http.GetStringAsync("/metrics")));
        }
        return processors;
    }

    /// <summary>Writes a record to one of Herald's topics: as a service would when <paramref name="authenticateWith"/> is
    /// <see cref="Records"/>, as anyone else with access to Kafka could otherwise.</summary>
    public async Task ProduceAsync(string topic, string key, byte[] value, Herald.Secrets.RecordAuthenticator? authenticateWith)
    {
        using var producer = new Confluent.Kafka.ProducerBuilder<string, byte[]>(new Confluent.Kafka.ProducerConfig
        {
            BootstrapServers = await App.GetConnectionStringAsync("kafka"),
            Acks = Confluent.Kafka.Acks.All,
        }).Build();
        var headers = new Confluent.Kafka.Headers();
        authenticateWith?.Stamp(headers, topic, key, value);
        await producer.ProduceAsync(topic, new Confluent.Kafka.Message<string, byte[]> { Key = key, Value = value, Headers = headers });
    }

    /// <summary>A connection to Herald's database, for tests that check what was (or was not) stored.</summary>
    public async Task<Npgsql.NpgsqlConnection> OpenDatabaseAsync()
    {
        var connection = new Npgsql.NpgsqlConnection(await App.GetConnectionStringAsync("herald"));
        await connection.OpenAsync();
        return connection;
    }

    /// <summary>Herald's Redis, for tests that publish or listen to what the services exchange there (one connection,
    /// shared by the tests and closed with the fixture).</summary>
    public Task<StackExchange.Redis.IConnectionMultiplexer> RedisAsync()
    {
        lock (_redisGate)
        {
            return _redis ??= ConnectAsync();
        }

        async Task<StackExchange.Redis.IConnectionMultiplexer> ConnectAsync() =>
            await StackExchange.Redis.ConnectionMultiplexer.ConnectAsync((await App.GetConnectionStringAsync("redis"))!);
    }

    private readonly Lock _redisGate = new();
    private Task<StackExchange.Redis.IConnectionMultiplexer>? _redis;

    /// <summary>The latest state the orchestrator published for a resource (by name, not by instance id).</summary>
    public Task<ResourceEvent> CurrentStateAsync(string resource, CancellationToken cancellationToken = default) =>
        App.ResourceNotifications.WaitForResourceAsync(resource, _ => true, cancellationToken);


    public async Task DisposeAsync()
    {
        Grpc?.Dispose();
        if (_redis is { IsCompletedSuccessfully: true }) await _redis.Result.DisposeAsync();
        if (App is not null)
        {
            await App.StopAsync();
            await App.DisposeAsync();
        }
        // An instance restarted through a resource command can escape the orchestrator's stop; end it here.
        foreach (var pid in ProcessTree.All().Where(pid => ProcessTree.Environment(pid).GetValueOrDefault("Herald__TestRun") == _run))
        {
            try
            {
                System.Diagnostics.Process.GetProcessById(pid).Kill();
            }
            catch (Exception exception) when (exception is ArgumentException or InvalidOperationException)
            {
            }
        }
        await Receiver.DisposeAsync();
    }
}

[CollectionDefinition(Name)]
public sealed class HeraldAppCollection : ICollectionFixture<HeraldAppFixture>
{
    public const string Name = "Herald app";
}
