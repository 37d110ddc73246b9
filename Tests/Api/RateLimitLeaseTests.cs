extern alias api;

using System.Collections.Concurrent;
using api::Herald.ApiService.RateLimiting;
using Herald.ServiceDefaults.Health;
using Herald.ServiceDefaults.Redis;
using Herald.Tests.Harness;
using Microsoft.Extensions.Logging.Abstractions;

namespace Herald.Tests.Api;

/// <summary>
/// The API's rate limit leasing, run as several API replicas sharing the test app's Redis, on a clock the test moves:
/// exact for small limits, never over the limit per window, and a Redis round trip per block rather than per request.
/// </summary>
[Collection(HeraldAppCollection.Name)]
public sealed class RateLimitLeaseTests(HeraldAppFixture herald)
{
    [Fact]
    public async Task A_small_limit_is_exact_across_replicas_and_opens_again_next_window()
    {
        var clock = new ManualClock();
        var replicas = await ReplicasAsync(2, clock);
        var key = NewKeyId();

        var first = await BurstAsync(replicas, key, limit: 5, requests: 40);
        Assert.Equal(5, first.Count(r => r is null));
        Assert.All(first.Where(r => r is not null), r => Assert.InRange(r!.Value, TimeSpan.FromMilliseconds(1), TimeSpan.FromSeconds(1)));

        clock.Advance(TimeSpan.FromSeconds(1));
        var second = await BurstAsync(replicas, key, limit: 5, requests: 40);
        Assert.Equal(5, second.Count(r => r is null));
    }

    [Fact]
    public async Task Replicas_over_a_large_limit_admit_no_more_than_it_and_lease_in_blocks()
    {
        var clock = new ManualClock();
        var replicas = await ReplicasAsync(3, clock);
        var key = NewKeyId();

        var results = await BurstAsync(replicas, key, limit: 1000, requests: 3000);

        var admitted = results.Count(r => r is null);
        Assert.InRange(admitted, 1000 - 3 * (1000 / 8), 1000); // at most one unused block per replica is stranded
        Assert.InRange(replicas.Sum(r => r.RoundTrips), 3, 3000 / 20);
    }

    [Fact]
    public async Task A_steady_key_costs_a_round_trip_or_two_per_window()
    {
        var clock = new ManualClock();
        var replica = (await ReplicasAsync(1, clock))[0];
        var key = NewKeyId();

        for (var i = 0; i < 2000; i++) Assert.Null(await replica.AcquireAsync(key, 1_000_000));
        clock.Advance(TimeSpan.FromSeconds(1));
        var before = replica.RoundTrips;
        for (var i = 0; i < 2000; i++) Assert.Null(await replica.AcquireAsync(key, 1_000_000));

        // The first window grows its blocks by doubling; the next leases the last window's demand at once.
        Assert.InRange(before, 2, 16);
        Assert.Equal(1, replica.RoundTrips - before);
    }

    [Fact]
    public async Task Without_redis_each_replica_counts_the_window_itself_at_once()
    {
        var clock = new ManualClock();
        var redisDown = RedisDependency();
        redisDown.ReportFailure("test: Redis is down");
        var replica = new RateLimitLeases(await herald.RedisAsync(), new Dependencies(redisDown), clock, NullLogger<RateLimitLeases>.Instance);
        var key = NewKeyId();

        var results = new List<TimeSpan?>();
        for (var i = 0; i < 30; i++) results.Add(await replica.AcquireAsync(key, 20));

        Assert.Equal(20, results.Count(r => r is null));
        Assert.All(results.Skip(20), r => Assert.NotNull(r));
        Assert.Equal(0, replica.RoundTrips);
        clock.Advance(TimeSpan.FromSeconds(1));
        Assert.Null(await replica.AcquireAsync(key, 20));
    }

    private async Task<RateLimitLeases[]> ReplicasAsync(int count, TimeProvider clock)
    {
        var redis = await herald.RedisAsync();
        return [.. Enumerable.Range(0, count).Select(_ =>
            new RateLimitLeases(redis, new Dependencies(RedisDependency()), clock, NullLogger<RateLimitLeases>.Instance))];
    }

    private static Dependency RedisDependency() =>
        new(Dependencies.Redis, DependencyRole.Optional, (_, _) => Task.CompletedTask, available: true);

    // Requests spread over the replicas, as many at once as the thread pool runs.
    private static async Task<IReadOnlyCollection<TimeSpan?>> BurstAsync(RateLimitLeases[] replicas, string key, int limit, int requests)
    {
        var results = new ConcurrentBag<TimeSpan?>();
        await Parallel.ForEachAsync(Enumerable.Range(0, requests), new ParallelOptions { MaxDegreeOfParallelism = 32 },
            async (i, _) => results.Add(await replicas[i % replicas.Length].AcquireAsync(key, limit)));
        return results;
    }

    private static string NewKeyId() => "key_test_" + Guid.NewGuid().ToString("N");

    /// <summary>Mid-second of a real time, so a test's window is one the test chooses and moves.</summary>
    private sealed class ManualClock : TimeProvider
    {
        private DateTimeOffset _now = DateTimeOffset.FromUnixTimeSeconds(DateTimeOffset.UtcNow.ToUnixTimeSeconds()).AddMilliseconds(500);

        public override DateTimeOffset GetUtcNow() => _now;

        public void Advance(TimeSpan by) => _now += by;
    }
}
