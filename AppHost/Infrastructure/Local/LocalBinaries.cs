namespace Herald.AppHost.Infrastructure.Local;

/// <summary>Finds the server binaries local mode runs, or says plainly what to install.</summary>
public static class LocalBinaries
{
    public sealed record Postgres(string InitDb, string Server);

    public static Postgres FindPostgres()
    {
        // Debian/Ubuntu keep versioned server binaries off PATH; prefer the newest.
        var candidates = Directory.Exists("/usr/lib/postgresql")
            ? Directory.GetDirectories("/usr/lib/postgresql")
                .Select(directory => Path.Combine(directory, "bin"))
                .OrderByDescending(directory => int.TryParse(Path.GetFileName(Path.GetDirectoryName(directory)), out var version) ? version : 0)
            : Enumerable.Empty<string>();
        foreach (var bin in candidates.Concat(PathDirectories()))
        {
            var initdb = Path.Combine(bin, "initdb");
            var server = Path.Combine(bin, "postgres");
            if (File.Exists(initdb) && File.Exists(server)) return new Postgres(initdb, server);
        }
        throw Missing("the PostgreSQL server (initdb, postgres)", "postgresql");
    }

    public static string FindRedis() =>
        PathDirectories().Select(directory => Path.Combine(directory, "redis-server")).FirstOrDefault(File.Exists)
        ?? throw Missing("the Redis server (redis-server)", "redis-server");

    public static void RequireSetprivWhenRoot()
    {
        if (LocalProcess.IsRoot && !PathDirectories().Any(directory => File.Exists(Path.Combine(directory, "setpriv"))))
            throw Missing("setpriv (to run PostgreSQL as the postgres user)", "util-linux");
    }

    private static IEnumerable<string> PathDirectories() =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries);

    private static MissingPrerequisiteException Missing(string what, string debianPackage) => new(
        $"""
        Herald's local infrastructure needs {what}, which is not installed.
          Debian/Ubuntu:  sudo apt-get install {debianPackage}
        Or run with a container runtime (Docker/Podman; {InfrastructureModes.Setting}=Containers),
        or point Herald at an existing server with ConnectionStrings:<name> in the AppHost's configuration.
        """);
}

/// <summary>Something local mode needs is not installed; the message says what to install.</summary>
public sealed class MissingPrerequisiteException(string message) : Exception(message);
