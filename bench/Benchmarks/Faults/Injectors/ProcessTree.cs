using System.Globalization;

namespace Herald.Bench.Faults.Injectors;

/// <summary>Linux processes as /proc shows them. Every read tolerates a process that exits while it is looked at.</summary>
public static class ProcessTree
{
    public static IEnumerable<int> All()
    {
        foreach (var directory in Directory.EnumerateDirectories("/proc"))
        {
            if (int.TryParse(Path.GetFileName(directory), NumberStyles.None, CultureInfo.InvariantCulture, out var pid)) yield return pid;
        }
    }

    /// <summary>The parent process id, or 0 when the process is gone.</summary>
    public static int ParentOf(int pid) => Stat(pid) is { } fields ? int.Parse(fields[1], CultureInfo.InvariantCulture) : 0;

    /// <summary>Alive and not a zombie (an exited child its parent has not reaped yet still has a /proc entry).</summary>
    public static bool IsAlive(int pid) => Stat(pid) is { } fields && fields[0] != "Z" && fields[0] != "X";

    /// <summary>Children, grandchildren and so on, from one pass over /proc.</summary>
    public static IReadOnlyList<int> Descendants(int pid)
    {
        var byParent = All().Select(p => (Pid: p, Parent: ParentOf(p))).ToLookup(p => p.Parent, p => p.Pid);
        var found = new List<int>();
        var next = new Queue<int>([pid]);
        while (next.TryDequeue(out var parent))
        {
            foreach (var child in byParent[parent])
            {
                found.Add(child);
                next.Enqueue(child);
            }
        }
        return found;
    }

    /// <summary>The program name the kernel keeps (at most 15 characters), or null when the process is gone.</summary>
    public static string? Name(int pid) => Read(pid, "comm")?.TrimEnd('\n');

    /// <summary>The arguments, the program first; empty when the process is gone.</summary>
    public static string[] CommandLine(int pid) => Read(pid, "cmdline")?.Split('\0', StringSplitOptions.RemoveEmptyEntries) ?? [];

    /// <summary>The environment the process started with; empty when it is gone or not ours to read.</summary>
    public static IReadOnlyDictionary<string, string> Environment(int pid) =>
        (Read(pid, "environ") ?? "").Split('\0')
            .Select(v => v.Split('=', 2)).Where(kv => kv.Length == 2)
            .GroupBy(kv => kv[0], StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.First()[1], StringComparer.Ordinal);

    public static string? WorkingDirectory(int pid)
    {
        try
        {
            return new DirectoryInfo($"/proc/{pid}/cwd").LinkTarget;
        }
        catch (Exception exception) when (exception is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    // /proc/<pid>/stat: "pid (comm) state ppid ..."; comm may hold spaces and parentheses, so split after the last ')'.
    // Returns the fields from the state on: [0] state, [1] ppid, ...
    private static string[]? Stat(int pid) => Read(pid, "stat") is { } stat ? stat[(stat.LastIndexOf(')') + 2)..].Split(' ') : null;

    private static string? Read(int pid, string file)
    {
        try
        {
            return File.ReadAllText($"/proc/{pid}/{file}");
        }
        catch (Exception exception) when (exception is IOException or UnauthorizedAccessException)
        {
            return null; // exited meanwhile, or not ours to read
        }
    }
}
