using System.Collections.Concurrent;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;

namespace Herald.ServiceDefaults.Kafka;

/// <summary>
/// Whether this process is a member of each consumer group it consumes as: joined once the group has given it an
/// assignment (possibly empty), left when its partitions are lost (session timed out, broker gone) or it closes.
/// A consuming service is ready only while it is a member of all of them: before that it can take no work.
/// </summary>
public sealed class ConsumerGroups
{
    public const string HealthCheckName = "consumers";

    private readonly ConcurrentDictionary<string, bool> _members = new(StringComparer.Ordinal);

    public void Expect(string groupId) => _members.TryAdd(groupId, false);

    public void Joined(string groupId) => _members[groupId] = true;

    public void Left(string groupId) => _members[groupId] = false;

    public IReadOnlyList<string> NotJoined => [.. _members.Where(m => !m.Value).Select(m => m.Key).Order(StringComparer.Ordinal)];
}

public static class ConsumerGroupExtensions
{
    /// <summary>Readiness waits until this process is a member of every one of <paramref name="groupIds"/>.</summary>
    public static void AddConsumerGroups(this IHostApplicationBuilder builder, params string[] groupIds)
    {
        var groups = new ConsumerGroups();
        foreach (var groupId in groupIds) groups.Expect(groupId);
        builder.Services.AddSingleton(groups);
        builder.Services.AddHealthChecks().AddCheck(ConsumerGroups.HealthCheckName, () => groups.NotJoined is { Count: > 0 } missing
            ? HealthCheckResult.Unhealthy($"Not a member of consumer group {string.Join(", ", missing)} yet.")
            : HealthCheckResult.Healthy());
    }
}
