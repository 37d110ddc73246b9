using System.Runtime.InteropServices;

namespace Herald.Bench.Faults.Injectors;

/// <summary>The POSIX signals the fault matrix sends (Linux numbers).</summary>
public enum Signal
{
    Kill = 9,
    Terminate = 15,
    Continue = 18,
    Stop = 19,
}

/// <summary>Sends signals with libc's kill(2): no child process per signal, so a whole PostgreSQL cluster is stopped
/// within microseconds rather than one `kill` start-up per process.</summary>
public static partial class Signals
{
    /// <returns>False when the process no longer exists.</returns>
    public static bool Send(int pid, Signal signal)
    {
        if (pid <= 0) throw new ArgumentOutOfRangeException(nameof(pid), pid, "kill(2) with 0 or a negative pid signals whole process groups.");
        return Kill(pid, (int)signal) == 0;
    }

    /// <returns>How many of the processes got the signal.</returns>
    public static int Send(IEnumerable<int> pids, Signal signal) => pids.Count(pid => Send(pid, signal));

    /// <summary>Stops a process and then everything below it. The root goes first so that it cannot fork while its
    /// children are being found (a PostgreSQL postmaster starts a backend per connection).</summary>
    /// <returns>The stopped processes, the root first.</returns>
    public static IReadOnlyList<int> StopTree(int root)
    {
        if (!Send(root, Signal.Stop)) return [];
        IReadOnlyList<int> tree = [root, .. ProcessTree.Descendants(root)];
        Send(tree.Skip(1), Signal.Stop);
        return tree;
    }

    [DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static extern int Kill(int pid, int signal);
}
