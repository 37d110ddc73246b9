namespace Herald.Fuzzing;

/// <summary>One parser of outside input, driven with arbitrary bytes. <see cref="Run"/> returns when the parser gave
/// one of its documented outcomes (accepted, or refused the way its caller maps to a 4xx or a skipped record); anything
/// else it throws is a crash, and so is a broken invariant (<see cref="InvariantBroken"/>).</summary>
public interface IHarness
{
    /// <summary>The name on the command line and of its Corpus/ and Crashers/ folders.</summary>
    string Name { get; }

    /// <summary>What outside input it parses, for the command's listing.</summary>
    string Parses { get; }

    void Run(ReadOnlySpan<byte> input);
}

/// <summary>A parser accepted input it should not have, or answered inconsistently: a bug even though nothing threw.</summary>
public sealed class InvariantBroken(string message) : Exception(message)
{
    public static void Unless(bool condition, string message)
    {
        if (!condition) throw new InvariantBroken(message);
    }
}
