extern alias api;

using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using api::Herald.ApiService.Auth;
using api::Herald.ApiService.Caching;
using Microsoft.Extensions.Caching.Memory;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;

namespace Herald.Tests.Unit;

/// <summary>A bearer token that is not shaped like a key Herald issues is refused before any lookup: it costs neither
/// a PostgreSQL query nor a cache entry. Here the database is a port nobody listens on, so a lookup would fail loudly.</summary>
public sealed class ApiKeyShapeTests
{
    [Theory]
    [InlineData("garbage")]
    [InlineData("hk_app_tooshort")]
    [InlineData("hk_root_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")]
    [InlineData("hk_app_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=")]
    [InlineData("hk_app_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")]
    [InlineData("hk_app_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA+")]
    [InlineData("' OR 1=1 --")]
    public async Task A_token_not_shaped_like_an_issued_key_is_refused_without_a_lookup(string token)
    {
        await using var database = NpgsqlDataSource.Create($"Host=127.0.0.1;Port={ClosedPort()};Timeout=2");
        using var memory = new MemoryCache(new MemoryCacheOptions());
        var directory = new ApiKeyDirectory(database, new RefreshingCache(memory, TimeProvider.System, NullLogger<RefreshingCache>.Instance),
            Microsoft.Extensions.Options.Options.Create(new AuthOptions()));

        Assert.Null(await directory.FindAsync(token, CancellationToken.None));
        Assert.Equal(0, memory.Count);
    }

    [Theory]
    [InlineData("hk_app_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")]
    [InlineData("hk_admin_abc-DEF_0123456789abcdefghijABCDEFGHIJ01234")]
    public async Task A_token_shaped_like_an_issued_key_is_looked_up(string token)
    {
        Assert.True(ApiKeyDirectory.IsIssuedKeyShape(token));
        await using var database = NpgsqlDataSource.Create($"Host=127.0.0.1;Port={ClosedPort()};Timeout=2");
        using var memory = new MemoryCache(new MemoryCacheOptions());
        var directory = new ApiKeyDirectory(database, new RefreshingCache(memory, TimeProvider.System, NullLogger<RefreshingCache>.Instance),
            Microsoft.Extensions.Options.Options.Create(new AuthOptions()));

        var clock = Stopwatch.StartNew();
        await Assert.ThrowsAnyAsync<NpgsqlException>(async () => await directory.FindAsync(token, CancellationToken.None));
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10));
    }

    private static int ClosedPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
