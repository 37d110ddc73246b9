// Coverage-guided fuzzing of every parser that takes outside input: AFL++ drives each harness through SharpFuzz.
//
//   dotnet run -c Release --project bench/Fuzzing -- fuzz [<harness>|all] [--minutes 2] [--json]
//   dotnet run -c Release --project bench/Fuzzing -- list
//   dotnet run -c Release --project bench/Fuzzing -- replay <harness> <file>...     (a crasher, in-process)
//
// `fuzz` needs afl-fuzz (apt-get install afl++) and the sharpfuzz tool (`dotnet tool restore`). It instruments a copy of
// this build and has afl-fuzz start it as `dotnet Herald.Fuzzing.dll target <harness>`. Seeds: Corpus/<harness>/;
// crashes found are copied to Crashers/<harness>/, and Tests/Fuzzing replays both folders on every test run.
using Herald.Fuzzing;
using Herald.Fuzzing.Afl;
using Herald.Fuzzing.Harnesses;

switch (args.FirstOrDefault())
{
    case "fuzz":
        return await AflCampaign.RunAsync(args[1..]);
    case "list":
        foreach (var harness in Catalog.All) Console.WriteLine($"{harness.Name,-18} {harness.Parses}");
        return 0;
    case "replay" when args.Length >= 3 && Catalog.Find(args[1]) is { } harness:
        return Replay.Files(harness, args[2..]);
    // What afl-fuzz runs: the fork server loop, one input from stdin per execution.
    case AflCampaign.TargetCommand when args.Length == 2 && Catalog.Find(args[1]) is { } harness:
        SharpFuzz.Fuzzer.Run(stream => harness.Run(Replay.ReadAll(stream)));
        return 0;
    default:
        Console.Error.WriteLine("usage: dotnet run -c Release --project bench/Fuzzing -- fuzz [<harness>|all] [--minutes N] [--json] | list | replay <harness> <file>...");
        Console.Error.WriteLine($"harnesses: {string.Join(", ", Catalog.All.Select(h => h.Name))}");
        return 2;
}
