using System.Security.Cryptography;
using System.Text;

namespace Herald.Secrets;

/// <summary>
/// The keys only Herald's services hold, from the <c>Herald:Sealing:Keys</c> setting (the AppHost's
/// <c>sealing-keys</c> secret parameter): one or more keys separated by whitespace, the first in use and the others
/// still accepted, so a key is rotated by putting the new one first and dropping the old one later. Each key is
/// stretched into one key per job (sealing secrets in PostgreSQL, authenticating Kafka records), never used as is.
/// </summary>
public sealed class SealingKeys
{
    public const string Setting = "Herald:Sealing:Keys";

    /// <summary>Shortest key accepted: a generated key is 48 letters and digits (over 280 bits).</summary>
    public const int MinimumKeyLength = 32;

    private readonly Dictionary<string, SealingKey> _byId;

    public SealingKeys(IReadOnlyList<string> keys)
    {
        if (keys.Count == 0) throw new ArgumentException("At least one sealing key is needed.", nameof(keys));
        var derived = keys.Select(SealingKey.Derive).ToList();
        Active = derived[0];
        _byId = derived.DistinctBy(k => k.Id).ToDictionary(k => k.Id, StringComparer.Ordinal);
    }

    /// <summary>The keys configured by <see cref="Setting"/>; throws a message an operator can act on when it is
    /// missing or too weak, so a service never starts without them.</summary>
    public static SealingKeys FromSetting(string? keys)
    {
        var parsed = (keys ?? "").Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
        if (parsed.Length == 0)
            throw new InvalidOperationException($"{Setting} is not set: Herald seals signing secrets and header values, and authenticates its " +
                "Kafka records, with it. The AppHost passes its 'sealing-keys' parameter; set it with --Parameters:sealing-keys=… or the " +
                "Herald__Sealing__Keys variable.");
        if (parsed.Any(k => k.Length < MinimumKeyLength))
            throw new InvalidOperationException($"{Setting}: every key must be at least {MinimumKeyLength} characters of random text.");
        return new SealingKeys(parsed);
    }

    /// <summary>The key in use: the first configured.</summary>
    public SealingKey Active { get; }

    public IEnumerable<string> Ids => _byId.Keys;

    public SealingKey? Find(string id) => _byId.GetValueOrDefault(id);
}

/// <summary>One configured key, as the keys derived from it for each job, and an id derived from it that names it in
/// what it sealed or signed without revealing it.</summary>
public sealed record SealingKey(string Id, byte[] SealKey, byte[] RecordKey)
{
    public static SealingKey Derive(string secret)
    {
        var material = Encoding.UTF8.GetBytes(secret);
        return new SealingKey(
            Convert.ToHexStringLower(HKDF.DeriveKey(HashAlgorithmName.SHA256, material, 4, info: "herald sealing key id v1"u8.ToArray())),
            HKDF.DeriveKey(HashAlgorithmName.SHA256, material, 32, info: "herald sealing key v1"u8.ToArray()),
            HKDF.DeriveKey(HashAlgorithmName.SHA256, material, 32, info: "herald record key v1"u8.ToArray()));
    }
}
