using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using Aspire.Hosting.ApplicationModel;
using Aspire.Hosting.Testing;
using Herald.Tests.Harness;
using Microsoft.Extensions.DependencyInjection;

namespace Herald.Tests.Foundation;

/// <summary>SIGTERM to a service process, as Kubernetes sends it: readiness turns 503 during the drain, the process
/// exits 0 within the shutdown timeout, and the log tells the story. The service is started again afterwards.</summary>
[Collection(HeraldAppCollection.Name)]
public sealed class GracefulShutdownTests(HeraldAppFixture herald, Xunit.Abstractions.ITestOutputHelper output)
{
    private static readonly TimeSpan ShutdownTimeout = TimeSpan.FromSeconds(30);

    [Theory]
    [InlineData("api", "Shutdown: in-flight work finished")]
    [InlineData("processor", "Consumer closed; stored offsets committed")]
    public async Task Sigterm_drains_then_exits_zero(string service, string finalLogLine)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        await herald.WaitUntilHealthyAsync(timeout.Token);
        // The Processor runs as replicas: signal one of them that is up, by its instance id.
        var instance = service == "processor" ? (await herald.ProcessorInstancesAsync(timeout.Token)).Keys.First() : null;
        var running = instance is null
            ? await herald.CurrentStateAsync(service, timeout.Token)
            : await herald.App.ResourceNotifications.WaitForResourceAsync(service, e => e.ResourceId == instance, timeout.Token);
        var pid = HeraldAppFixture.ProcessOf(running.ResourceId) ?? throw new InvalidOperationException($"No process for {running.ResourceId}.");
        var logs = new ConcurrentQueue<string>();
        using var stopWatching = CancellationTokenSource.CreateLinkedTokenSource(timeout.Token);
        var watching = herald.WatchLogsAsync(running.ResourceId, logs, stopWatching.Token);
        // This process's own port: the service's address balances across replicas, and the others stay ready.
        using var http = new HttpClient { BaseAddress = HeraldAppFixture.ManagementUrl(pid), Timeout = TimeSpan.FromSeconds(2) };

        output.WriteLine($"{running.ResourceId}: pid {pid}, {http.BaseAddress}");
        var signalled = Stopwatch.StartNew();
        using (var kill = Process.Start("kill", ["-TERM", pid.ToString()])) await kill.WaitForExitAsync(timeout.Token);

        var readiness = new List<HttpStatusCode>();
        while (!Process.GetProcesses().All(p => p.Id != pid) && signalled.Elapsed < ShutdownTimeout)
        {
            try
            {
                readiness.Add((await http.GetAsync("/readyz", timeout.Token)).StatusCode);
            }
            catch (HttpRequestException)
            {
                // Intake has stopped; the process is on its way out.
            }
            catch (TaskCanceledException) when (!timeout.IsCancellationRequested)
            {
            }
            await Task.Delay(100, timeout.Token);
        }

        var exited = await herald.App.ResourceNotifications.WaitForResourceAsync(service,
            e => e.ResourceId == running.ResourceId && KnownResourceStates.TerminalStates.Contains(e.Snapshot.State?.Text), timeout.Token);
        var elapsed = signalled.Elapsed;
        await Task.Delay(500, timeout.Token); // let the last log lines arrive
        await stopWatching.CancelAsync();
        await watching;

        // The signal takes a moment to reach the host; from the first 503 on, readiness never says ready again.
        var firstUnavailable = readiness.IndexOf(HttpStatusCode.ServiceUnavailable);
        Assert.True(firstUnavailable is >= 0 and <= 2, $"Readiness after SIGTERM: {string.Join(", ", readiness)}");
        Assert.All(readiness.Skip(firstUnavailable), status => Assert.Equal(HttpStatusCode.ServiceUnavailable, status));
        Assert.Equal(0, exited.Snapshot.ExitCode);
        Assert.True(elapsed < ShutdownTimeout, $"Took {elapsed} to exit.");
        Assert.Contains(logs, line => line.Contains("Shutdown: draining, readiness now reports 503"));
        Assert.Contains(logs, line => line.Contains(finalLogLine));

        await herald.App.ResourceCommands.ExecuteCommandAsync(running.ResourceId, KnownResourceCommands.StartCommand, timeout.Token);
        await herald.WaitUntilHealthyAsync(timeout.Token);
    }
}
