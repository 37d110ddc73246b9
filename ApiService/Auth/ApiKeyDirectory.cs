using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;
using Herald.ApiService.Caching;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Herald.ApiService.Auth;

/// <summary>Resolves a presented API key to its caller. Keys are looked up by SHA-256 (they are random 256-bit values,
/// so a fast hash is enough) and remembered briefly so the hot path does not query PostgreSQL per request.</summary>
public sealed partial class ApiKeyDirectory(NpgsqlDataSource dataSource, RefreshingCache cache, IOptions<AuthOptions> options)
{
    public const string BootstrapAdminKeyId = "key_bootstrap_admin";

    // A known key keeps working on what was last read, for this long, while PostgreSQL does not answer.
    private static readonly TimeSpan StaleFor = TimeSpan.FromMinutes(5);

    private readonly byte[]? _adminKeyHash = string.IsNullOrEmpty(options.Value.AdminKey) ? null : Hash(options.Value.AdminKey);

    public static byte[] Hash(string key) => SHA256.HashData(Encoding.UTF8.GetBytes(key));

    /// <summary>The length of a token's random part: the base64url of 32 bytes.</summary>
    public const int TokenRandomLength = 43;

    /// <summary>A new bearer token, API key or portal link: 256 random bits, base64url, after a prefix that says what it
    /// is for when it turns up in a log or a secret scanner. Only its <see cref="Hash"/> is ever stored.</summary>
    public static string NewToken(string prefix) =>
        prefix + Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    public async ValueTask<Caller?> FindAsync(string presentedKey, CancellationToken cancellationToken)
    {
        if (Known(presentedKey, out var hash) is { } caller) return caller;
        // Only something shaped like a key Herald issued can be one: anything else costs no lookup and no cache entry.
        if (hash is null || !IsIssuedKeyShape(presentedKey)) return null;

        // Unknown keys are remembered too, so a stream of bad keys cannot keep the database busy.
        return await cache.GetAsync(CacheKey(hash), ct => LookUpAsync(hash, ct), options.Value.KeyCacheDuration, StaleFor, cancellationToken);
    }

    /// <summary>The caller when this replica already knows the key (the bootstrap admin key, or one it looked up
    /// lately); null otherwise, without a lookup.</summary>
    public Caller? FindKnown(string presentedKey) => Known(presentedKey, out _);

    private Caller? Known(string presentedKey, out byte[]? hash)
    {
        hash = null;
        if (presentedKey.Length is 0 or > 512) return null;
        hash = Hash(presentedKey);
        if (_adminKeyHash is not null && CryptographicOperations.FixedTimeEquals(hash, _adminKeyHash)) return new Caller(BootstrapAdminKeyId, null);
        return cache.TryGet(CacheKey(hash), out Caller? known) ? known : null;
    }

    private async Task<Caller?> LookUpAsync(byte[] hash, CancellationToken cancellationToken)
    {
        await using var query = dataSource.CreateCommand(
            "SELECT id, application_id FROM api_keys WHERE key_hash = $1 AND revoked_at IS NULL");
        query.Parameters.Add(new() { Value = hash });
        await using var reader = await query.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken)
            ? new Caller(reader.GetString(0), reader.IsDBNull(1) ? null : reader.GetString(1))
            : null;
    }

    /// <summary>"hk_admin_" or "hk_app_" and the base64url of 32 random bytes (<see cref="ApiKeys.ApiKeyService"/>).</summary>
    public static bool IsIssuedKeyShape(string key) => IssuedKey().IsMatch(key);

    [GeneratedRegex("^hk_(admin|app)_[A-Za-z0-9_-]{43}\\z")]
    private static partial Regex IssuedKey();

    public void Forget(byte[] hash) => cache.Remove(CacheKey(hash));

    private static string CacheKey(byte[] hash) => "api-key:" + Convert.ToHexString(hash);
}
