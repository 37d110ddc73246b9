using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Herald.AppHost.Infrastructure.Local;

public sealed record ProcessResult(int ExitCode, string Output);

/// <summary>Short-lived commands the AppHost runs itself (initdb, chown, <c>docker info</c>).</summary>
public static class LocalProcess
{
    public static async Task<ProcessResult> RunAsync(string fileName, IEnumerable<string> arguments, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var start = new ProcessStartInfo(fileName)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in arguments) start.ArgumentList.Add(argument);

        using var process = Process.Start(start) ?? throw new InvalidOperationException($"Could not start {fileName}.");
        var output = process.StandardOutput.ReadToEndAsync(cancellationToken);
        var error = process.StandardError.ReadToEndAsync(cancellationToken);
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(timeout);
        try
        {
            await process.WaitForExitAsync(deadline.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            return new ProcessResult(-1, $"{fileName} did not finish within {timeout}.");
        }
        return new ProcessResult(process.ExitCode, (await output) + (await error));
    }

    /// <summary>Runs the command as <paramref name="user"/> when the AppHost is root (PostgreSQL refuses to run as root).</summary>
    public static (string FileName, string[] Arguments) AsUser(string? user, string fileName, params string[] arguments) =>
        user is null
            ? (fileName, arguments)
            // setpriv execs in place (no extra parent process), so signals from the orchestrator reach the server directly.
            : ("setpriv", [$"--reuid={user}", $"--regid={user}", "--init-groups", "--", fileName, .. arguments]);

    public static bool IsRoot => Environment.UserName == "root";

    /// <summary>A loopback port that was free a moment ago.</summary>
    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
