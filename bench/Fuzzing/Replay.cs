using Herald.Fuzzing.Harnesses;

namespace Herald.Fuzzing;

/// <summary>Runs saved inputs through a harness in this process, as the tests do: to reproduce a crasher with its stack.</summary>
public static class Replay
{
    public static int Files(IHarness harness, IEnumerable<string> files)
    {
        var failed = 0;
        foreach (var file in files)
        {
            try
            {
                harness.Run(File.ReadAllBytes(file));
                Console.WriteLine($"ok      {file}");
            }
            catch (Exception exception)
            {
                failed++;
                Console.WriteLine($"CRASH   {file}\n{exception}");
            }
        }
        return failed == 0 ? 0 : 1;
    }

    public static byte[] ReadAll(Stream stream)
    {
        using var buffer = new MemoryStream();
        stream.CopyTo(buffer);
        return buffer.ToArray();
    }

    /// <summary>The repository's bench/Fuzzing folder, found from where this assembly runs.</summary>
    public static string FuzzingFolder()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "Aspire.sln"))) return Path.Combine(directory.FullName, "bench", "Fuzzing");
        }
        throw new InvalidOperationException("Aspire.sln not found above " + AppContext.BaseDirectory);
    }

    public static string CorpusFolder(IHarness harness) => Path.Combine(FuzzingFolder(), "Corpus", harness.Name);

    public static string CrashersFolder(IHarness harness) => Path.Combine(FuzzingFolder(), "Crashers", harness.Name);
}
