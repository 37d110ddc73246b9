using System.Diagnostics;
using System.Globalization;
using Aspire.Hosting.ApplicationModel;
using Herald.AppHost.Infrastructure.Local;
using Herald.Bench.Delivery;
using Herald.Bench.Faults.Injectors;
using Microsoft.Extensions.DependencyInjection;

namespace Herald.Bench.Faults;

/// <summary>One row of the matrix: a fault injected mid-stream and undone (healed).</summary>
/// <param name="InjectAsync">Injects the fault, calling <see cref="FaultRun.Injected"/>, and returns once it is healed,
/// having called <see cref="FaultRun.Healed"/>.</param>
public sealed record Fault(string Name, string Description, Func<FaultRun, Task> InjectAsync)
{
    /// <summary>How long the fault lasts, for faults that last (set with <c>--&lt;name&gt; SECONDS</c>).</summary>
    public TimeSpan? Duration { get; init; }

    /// <summary>AppHost arguments this row needs besides the matrix's own.</summary>
    public IReadOnlyList<string> Settings { get; init; } = [];

    /// <summary>Not undone within the measurement (a killed replica stays dead unless Herald brings it back): the
    /// fault window runs to the end of the stream and recovery counts from the injection.</summary>
    public bool Persists { get; init; }

    /// <summary>Runs after the measurement (the row's numbers are taken): puts back what the fault left broken.</summary>
    public Func<FaultRun, Task>? AfterAsync { get; init; }
}

/// <summary>One fault being run against one Herald: what it acts on, and when it was injected and healed.</summary>
public sealed class FaultRun(Fault fault, HeraldUnderTest herald, Receiver receiver, IReadOnlyList<string> processors,
    ConsumerAssignments assignments, CancellationToken cancellationToken)
{
    private readonly List<string> _notes = [];

    public Fault Fault { get; } = fault;

    public HeraldUnderTest Herald { get; } = herald;

    public Receiver Receiver { get; } = receiver;

    /// <summary>The Processor's instance ids, sorted.</summary>
    public IReadOnlyList<string> Processors { get; } = processors;

    /// <summary>Which partitions each Processor instance owns, from its logs.</summary>
    public ConsumerAssignments Assignments { get; } = assignments;

    public CancellationToken CancellationToken { get; } = cancellationToken;

    /// <summary>Stopwatch timestamps; null until it happened.</summary>
    public long? InjectedAt { get; private set; }

    public long? HealedAt { get; private set; }

    /// <summary>What the fault acted on, kept for <see cref="Fault.AfterAsync"/>.</summary>
    public (string Instance, int Pid) Victim { get; set; }

    /// <summary>What happened, with times from the injection ("t+5.2 s").</summary>
    public IReadOnlyList<string> Notes => _notes;

    public TimeSpan Duration => Fault.Duration ?? TimeSpan.Zero;

    public void Injected(string what)
    {
        InjectedAt = Stopwatch.GetTimestamp();
        Note(what);
    }

    public void Healed(string what)
    {
        HealedAt = Stopwatch.GetTimestamp();
        Note(what);
    }

    public void Note(string what)
    {
        var at = InjectedAt is { } injected ? $"t+{Stopwatch.GetElapsedTime(injected).TotalSeconds.ToString("0.0", CultureInfo.InvariantCulture)} s " : "";
        lock (_notes) _notes.Add(at + what);
    }

    public string PostgresDataDirectory => Model.Resources.OfType<LocalPostgresResource>().Single().DataDirectory;

    public string RedisDirectory => Model.Resources.OfType<LocalRedisResource>().Single().WorkingDirectory;

    private DistributedApplicationModel Model => Herald.App.Services.GetRequiredService<DistributedApplicationModel>();
}
