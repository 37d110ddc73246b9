namespace Herald.AppHost.Infrastructure.Local;

/// <summary>
/// Throw-away data directories for local mode, one tree per AppHost process under the temp folder. Trees left by
/// AppHosts that are no longer running are removed at start-up.
/// </summary>
public static class ScratchDirectory
{
    private static readonly string Root = Path.Combine(Path.GetTempPath(), "herald-local");
    private static readonly Lazy<string> Current = new(Create);

    public static string For(string resourceName) => Path.Combine(Current.Value, resourceName);

    private static string Create()
    {
        Directory.CreateDirectory(Root);
        foreach (var stale in Directory.GetDirectories(Root))
        {
            if (int.TryParse(Path.GetFileName(stale).Split('-')[0], out var pid) && !IsRunning(pid))
            {
                try { Directory.Delete(stale, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
            }
        }
        var current = Path.Combine(Root, $"{Environment.ProcessId}-{Guid.NewGuid():N}"[..20]);
        Directory.CreateDirectory(current);
        if (OperatingSystem.IsWindows()) return current;
        // Local servers may run as another user (postgres); they need to reach their own subdirectories.
        File.SetUnixFileMode(Root, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute
                                    | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute);
        File.SetUnixFileMode(current, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute
                                       | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute);
        return current;
    }

    private static bool IsRunning(int pid)
    {
        try { return !System.Diagnostics.Process.GetProcessById(pid).HasExited; }
        catch (ArgumentException) { return false; }
    }
}
