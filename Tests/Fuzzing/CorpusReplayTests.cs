using Herald.Fuzzing.Harnesses;
using FuzzReplay = Herald.Fuzzing.Replay;

namespace Herald.Tests.Fuzzing;

/// <summary>
/// Every fuzz harness over its saved inputs, in this process (no afl-fuzz): the seed corpus and every crasher a fuzz run
/// found (bench/Fuzzing), committed with its fix so the bug cannot come back.
/// </summary>
public sealed class CorpusReplayTests
{
    public static TheoryData<string, string> SavedInputs()
    {
        var inputs = new TheoryData<string, string>();
        foreach (var harness in Catalog.All)
        {
            foreach (var folder in (string[])[FuzzReplay.CorpusFolder(harness), FuzzReplay.CrashersFolder(harness)])
            {
                if (!Directory.Exists(folder)) continue;
                foreach (var file in Directory.GetFiles(folder).Order(StringComparer.Ordinal))
                    inputs.Add(harness.Name, Path.GetRelativePath(FuzzReplay.FuzzingFolder(), file));
            }
        }
        return inputs;
    }

    [Theory]
    [MemberData(nameof(SavedInputs))]
    public void Harness_takes_a_saved_input(string harness, string file) =>
        Catalog.Find(harness)!.Run(File.ReadAllBytes(Path.Combine(FuzzReplay.FuzzingFolder(), file)));

    [Fact]
    public void Every_harness_has_a_seed_corpus()
    {
        var empty = Catalog.All.Where(h => !Directory.Exists(FuzzReplay.CorpusFolder(h)) || Directory.GetFiles(FuzzReplay.CorpusFolder(h)).Length == 0);
        Assert.Empty(empty.Select(h => h.Name));
    }

    [Fact]
    public void Every_corpus_and_crashers_folder_belongs_to_a_harness()
    {
        var folders = (string[])["Corpus", "Crashers"];
        var strays = folders
            .Select(f => Path.Combine(FuzzReplay.FuzzingFolder(), f))
            .Where(Directory.Exists)
            .SelectMany(Directory.GetDirectories)
            .Select(Path.GetFileName)
            .Where(name => Catalog.Find(name!) is null);
        Assert.Empty(strays);
    }
}
