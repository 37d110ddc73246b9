using System.Diagnostics;
using Herald.ServiceDefaults.Kafka;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace Herald.Bench.Floor;

/// <summary>Where the floor's programs find PostgreSQL, Kafka and the receiver: Herald's own, for a fair comparison.
/// Given in the environment, not on the command line (the connection string may hold a password).</summary>
public sealed record FloorSettings(string Postgres, string Kafka, string Topic, Uri Receiver)
{
    public static FloorSettings FromEnvironment() => new(
        Environment.GetEnvironmentVariable("FLOOR_POSTGRES")!,
        Environment.GetEnvironmentVariable("FLOOR_KAFKA")!,
        Environment.GetEnvironmentVariable("FLOOR_TOPIC")!,
        new Uri(Environment.GetEnvironmentVariable("FLOOR_RECEIVER")!));

    /// <summary>Herald's own Kafka client settings (acks, idempotence, linger, consumer session and offsets), with
    /// none of a service's configuration overrides.</summary>
    public KafkaConnection KafkaClients() => new(Kafka, "floor", new ConfigurationBuilder().Build());

    public void ExportTo(ProcessStartInfo start)
    {
        start.Environment["FLOOR_POSTGRES"] = Postgres;
        start.Environment["FLOOR_KAFKA"] = Kafka;
        start.Environment["FLOOR_TOPIC"] = Topic;
        start.Environment["FLOOR_RECEIVER"] = Receiver.ToString();
    }
}

/// <summary>One of the floor's programs, run as a process of its own so that its CPU and memory are its own.</summary>
public sealed class FloorProcess : IAsyncDisposable
{
    private const string ReadyLine = "floor ready";

    private readonly Process _process;

    private FloorProcess(Process process, Uri? url) => (_process, Url) = (process, url);

    /// <summary>Where it listens (the API), once ready.</summary>
    public Uri? Url { get; }

    public int Pid => _process.Id;

    /// <summary>Said by the child once it serves: the parent waits for this line.</summary>
    public static void Ready(WebApplication? app)
    {
        var address = app?.Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>().Addresses.First();
        Console.WriteLine($"{ReadyLine} {address}");
    }

    public static async Task<FloorProcess> StartAsync(string command, FloorSettings settings)
    {
        var self = Environment.ProcessPath!;
        var start = new ProcessStartInfo(self) { RedirectStandardOutput = true, UseShellExecute = false };
        // Run as `dotnet Herald.Bench.dll`, the program is the assembly; run through its apphost, the apphost.
        if (Path.GetFileNameWithoutExtension(self) == "dotnet") start.ArgumentList.Add(typeof(FloorProcess).Assembly.Location);
        start.ArgumentList.Add(command);
        // Herald's services are web projects, which run the server GC; so does the floor, or memory would not compare.
        start.Environment["DOTNET_gcServer"] = "1";
        settings.ExportTo(start);
        var process = Process.Start(start)!;
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        while (await process.StandardOutput.ReadLineAsync(timeout.Token) is { } line)
        {
            if (!line.StartsWith(ReadyLine, StringComparison.Ordinal)) continue;
            var address = line[ReadyLine.Length..].Trim();
            return new FloorProcess(process, address.Length > 0 ? new Uri(address) : null);
        }
        throw new InvalidOperationException($"{command} exited ({process.ExitCode}) before it was ready.");
    }

    /// <summary>The floor's three tables: as few columns and indexes as the work needs.</summary>
    public static async Task CreateSchemaAsync(string postgres)
    {
        await using var database = NpgsqlDataSource.Create(postgres);
        await using var create = database.CreateCommand("""
            CREATE TABLE IF NOT EXISTS floor_messages (
                id          uuid        PRIMARY KEY,
                endpoint    int         NOT NULL,
                received_at timestamptz NOT NULL DEFAULT now(),
                payload     bytea       NOT NULL);
            CREATE TABLE IF NOT EXISTS floor_deliveries (
                message_id  uuid        NOT NULL,
                endpoint    int         NOT NULL,
                state       text        NOT NULL DEFAULT 'pending',
                attempts    int         NOT NULL DEFAULT 0,
                PRIMARY KEY (message_id, endpoint));
            CREATE TABLE IF NOT EXISTS floor_attempts (
                id          bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                message_id  uuid        NOT NULL,
                endpoint    int         NOT NULL,
                status      int         NOT NULL,
                at          timestamptz NOT NULL DEFAULT now());
            """);
        await create.ExecuteNonQueryAsync();
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }
        _process.Dispose();
    }
}
