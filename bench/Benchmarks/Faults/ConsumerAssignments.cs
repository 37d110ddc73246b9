using System.Text.RegularExpressions;

namespace Herald.Bench.Faults;

/// <summary>
/// Which Kafka partitions each Processor instance owns, followed from the Processor's own log lines ("Assigned
/// herald.deliveries partitions 0,1", "Revoked …", "Released …", "Lost …": with the cooperative assignor each names only what
/// changed). The broker is not asked: the embedded one cannot describe its groups.
/// </summary>
public sealed partial class ConsumerAssignments
{
    private readonly Dictionary<(string Instance, string Topic), SortedSet<int>> _owned = [];

    /// <summary>Takes one console line of a resource instance; lines that say nothing of partitions are ignored.</summary>
    public void Note(string instance, string line)
    {
        if (Consuming().Match(line) is { Success: true } start)
        {
            // A (re)started process owns nothing until it is assigned partitions.
            lock (_owned) _owned[(instance, start.Groups["topic"].Value)] = [];
            return;
        }
        if (Change().Match(line) is not { Success: true } change) return;
        var partitions = change.Groups["partitions"].Value.Split(',', StringSplitOptions.RemoveEmptyEntries).Select(int.Parse);
        lock (_owned)
        {
            var key = (instance, change.Groups["topic"].Value);
            if (!_owned.TryGetValue(key, out var owned)) _owned[key] = owned = [];
            if (change.Groups["change"].Value == "Assigned") owned.UnionWith(partitions);
            else owned.ExceptWith(partitions);
        }
    }

    /// <summary>A killed process says nothing more: forget what it owned.</summary>
    public void Forget(string instance)
    {
        lock (_owned)
        {
            foreach (var key in _owned.Keys.Where(k => k.Instance == instance).ToList()) _owned[key] = [];
        }
    }

    /// <summary>Every instance owns some partitions of every topic, and no partition has two owners.</summary>
    public bool Balanced(IReadOnlyList<string> instances)
    {
        lock (_owned)
        {
            var topics = _owned.Keys.Select(k => k.Topic).Distinct().ToList();
            return topics.Count > 0
                   && topics.All(topic => instances.All(i => _owned.GetValueOrDefault((i, topic))?.Count > 0))
                   && Shared().Count == 0;
        }
    }

    /// <summary>"processor-abcd: herald.deliveries 0-5, herald.messages 0-5; …", and any partition with two owners.</summary>
    public string Describe(IReadOnlyList<string> instances)
    {
        lock (_owned)
        {
            var owners = instances.Select(i => $"{i}: " + string.Join(", ", _owned.Where(o => o.Key.Instance == i).OrderBy(o => o.Key.Topic, StringComparer.Ordinal)
                .Select(o => $"{o.Key.Topic} {Ranges(o.Value)}")));
            var shared = Shared();
            return string.Join("; ", owners) + (shared.Count == 0 ? "" : "; OWNED TWICE: " + string.Join(", ", shared));
        }
    }

    // Partitions that two instances both believe they own.
    private List<string> Shared() =>
    [
        .. _owned.SelectMany(o => o.Value.Select(p => (o.Key.Topic, Partition: p, o.Key.Instance)))
            .GroupBy(p => (p.Topic, p.Partition))
            .Where(g => g.Count() > 1)
            .Select(g => $"{g.Key.Topic}[{g.Key.Partition}]"),
    ];

    private static string Ranges(SortedSet<int> partitions)
    {
        var ranges = new List<(int From, int To)>();
        foreach (var p in partitions)
        {
            if (ranges.Count > 0 && ranges[^1].To == p - 1) ranges[^1] = (ranges[^1].From, p);
            else ranges.Add((p, p));
        }
        return ranges.Count == 0 ? "none" : string.Join(",", ranges.Select(r => r.From == r.To ? $"{r.From}" : $"{r.From}-{r.To}"));
    }

    [GeneratedRegex(@"Consuming (?<topic>herald\.[a-z]+) as group")]
    private static partial Regex Consuming();

    [GeneratedRegex(@"(?<change>Assigned|Revoked|Released|Lost) (?<topic>herald\.[a-z]+) partitions ?(?<partitions>[0-9,]*)")]
    private static partial Regex Change();
}
