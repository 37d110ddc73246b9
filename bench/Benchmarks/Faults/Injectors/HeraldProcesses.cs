namespace Herald.Bench.Faults.Injectors;

/// <summary>
/// The real server processes behind an AppHost's resources, found in /proc. The orchestrator's snapshot is not enough:
/// a project's <c>executable.pid</c> is its <c>dotnet run</c> parent (and goes stale once the instance is restarted),
/// and the local PostgreSQL is started through setpriv with a postmaster that forks a process per connection.
/// </summary>
public static class HeraldProcesses
{
    /// <summary>The service process of one project instance ("processor-abcd1234"), found by the OTEL_SERVICE_NAME and
    /// service.instance.id the orchestrator gives it — not its <c>dotnet run</c> parent, which has the same
    /// environment. Null while the instance has no live service process (killed, not yet restarted).</summary>
    public static int? Service(string instanceId) => ProcessTree.All()
        .Where(pid => IsInstance(ProcessTree.Environment(pid), instanceId) && !IsDotnetRun(pid) && ProcessTree.IsAlive(pid))
        .Cast<int?>()
        .FirstOrDefault();

    /// <summary>The HTTP address the service process itself listens on (its first ASPNETCORE_URLS entry), past the
    /// orchestrator's proxy.</summary>
    public static Uri? HttpAddress(int pid) =>
        ProcessTree.Environment(pid).TryGetValue("ASPNETCORE_URLS", out var urls) ? new Uri(urls.Split(';')[0]) : null;

    /// <summary>Where the service process serves <c>/healthz</c>, <c>/readyz</c> and <c>/metrics</c>: its MANAGEMENT_PORT
    /// on the host of its HTTP address (or that address, when it has no management port).</summary>
    public static Uri? ManagementAddress(int pid) =>
        HttpAddress(pid) is not { } http ? null
        : ProcessTree.Environment(pid).TryGetValue("MANAGEMENT_PORT", out var port) ? new UriBuilder(http) { Port = int.Parse(port, System.Globalization.CultureInfo.InvariantCulture) }.Uri
        : http;

    /// <summary>Every process of the PostgreSQL cluster serving <paramref name="dataDirectory"/>: the postmaster
    /// first, then its children (checkpointer, walwriter, autovacuum, one backend per connection). Empty when it is
    /// not running.</summary>
    public static IReadOnlyList<int> PostgresCluster(string dataDirectory)
    {
        var postmaster = ProcessTree.All().FirstOrDefault(pid => ProcessTree.Name(pid) == "postgres" && Serves(ProcessTree.CommandLine(pid), dataDirectory));
        return postmaster == 0 ? [] : [postmaster, .. ProcessTree.Descendants(postmaster)];
    }

    /// <summary>The redis-server running in <paramref name="workingDirectory"/> (it rewrites its command line to its
    /// address, so the directory it was started in is what tells it apart from other Redis servers on the machine).</summary>
    public static int? Redis(string workingDirectory)
    {
        var directory = Path.TrimEndingDirectorySeparator(Path.GetFullPath(workingDirectory));
        return ProcessTree.All()
            .Where(pid => ProcessTree.Name(pid) == "redis-server" && ProcessTree.WorkingDirectory(pid) is { } cwd
                          && Path.TrimEndingDirectorySeparator(cwd) == directory && ProcessTree.IsAlive(pid))
            .Cast<int?>()
            .FirstOrDefault();
    }

    private static bool IsInstance(IReadOnlyDictionary<string, string> environment, string instanceId) =>
        environment.TryGetValue("OTEL_SERVICE_NAME", out var service)
        && environment.TryGetValue("OTEL_RESOURCE_ATTRIBUTES", out var attributes)
        && attributes.Split(',').Any(a => a.StartsWith("service.instance.id=", StringComparison.Ordinal)
                                          && instanceId == $"{service}-{a["service.instance.id=".Length..]}");

    private static bool IsDotnetRun(int pid) => ProcessTree.CommandLine(pid) is [_, "run", ..];

    // The postmaster's own arguments, "-D <directory>" among them (postgres forks its children from it, so they
    // carry a rewritten title instead).
    private static bool Serves(string[] commandLine, string dataDirectory)
    {
        var index = Array.IndexOf(commandLine, "-D");
        return index >= 0 && index + 1 < commandLine.Length
               && Path.TrimEndingDirectorySeparator(commandLine[index + 1]) == Path.TrimEndingDirectorySeparator(dataDirectory);
    }
}
