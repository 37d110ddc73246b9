extern alias api;

using api::Herald.ApiService.Caching;
using Microsoft.Extensions.Caching.Memory;
using Microsoft.Extensions.Logging.Abstractions;

namespace Herald.Tests.Unit;

/// <summary>The API's cache of key lookups and settings is bounded, and a flood of lookups that found nothing (made-up
/// keys) is what goes first: a known key stays remembered.</summary>
public sealed class RefreshingCacheTests
{
    [Fact]
    public async Task A_flood_of_unknown_keys_stays_within_the_size_limit_and_does_not_push_out_a_known_one()
    {
        using var memory = new MemoryCache(new MemoryCacheOptions { SizeLimit = 100 });
        var cache = new RefreshingCache(memory, TimeProvider.System, NullLogger<RefreshingCache>.Instance);
        var fresh = TimeSpan.FromMinutes(1);
        var stale = TimeSpan.FromMinutes(5);
        Assert.Equal("caller", await cache.GetAsync("known", _ => Task.FromResult<string?>("caller"), fresh, stale, CancellationToken.None));

        for (var i = 0; i < 1_000; i++)
        {
            Assert.Null(await cache.GetAsync($"unknown-{i}", _ => Task.FromResult<string?>(null), fresh, stale, CancellationToken.None));
            Assert.True(memory.Count <= 100, $"{memory.Count} entries after {i + 1} unknown keys");
        }
        // Whatever compaction ran, or runs now, took unknown keys and left the known one.
        memory.Compact(0.5);
        var loads = 0;
        Assert.Equal("caller", await cache.GetAsync("known", _ => { loads++; return Task.FromResult<string?>("reloaded"); }, fresh, stale, CancellationToken.None));
        Assert.Equal(0, loads);
    }
}
