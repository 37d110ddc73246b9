using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;

namespace Herald.Secrets;

/// <summary>
/// Seals the secrets Herald keeps for its users — endpoint signing secrets and custom header values — so that the
/// database (a dump, a backup, a replica) holds only ciphertext. AES-256-GCM under a key that is never in the database:
/// it comes from <see cref="SealingKeys"/>. The first key seals; every configured key unseals, so a key can be rotated
/// without a moment when rows are unreadable (the API reseals old rows on start-up, and says so in its log).
/// <para>
/// A sealed value is <c>sealed:v1:{key id}:{base64url(nonce ‖ ciphertext ‖ tag)}</c>. The key id is derived from the
/// key, not the key itself. What the value belongs to (the endpoint, and the header's name) is authenticated with it,
/// so a sealed value copied to another row does not unseal there.
/// </para>
/// </summary>
public sealed class SecretSealer(SealingKeys keys)
{
    private const string Prefix = "sealed:v1:";
    private const int NonceSize = 12;
    private const int TagSize = 16;

    private readonly SealingKey _active = keys.Active;

    public SecretSealer(IReadOnlyList<string> keys) : this(new SealingKeys(keys))
    {
    }

    /// <summary>The id of the key that seals (the first one configured).</summary>
    public string ActiveKeyId => _active.Id;

    /// <summary>What every value sealed under the active key starts with.</summary>
    public string ActivePrefix => Prefix + _active.Id + ":";

    public static bool IsSealed(string stored) => stored.StartsWith(Prefix, StringComparison.Ordinal);

    public string Seal(string value, SealedField field)
    {
        var plaintext = Encoding.UTF8.GetBytes(value);
        var sealedBytes = new byte[NonceSize + plaintext.Length + TagSize];
        var nonce = sealedBytes.AsSpan(0, NonceSize);
        RandomNumberGenerator.Fill(nonce);
        using var aes = new AesGcm(_active.SealKey, TagSize);
        aes.Encrypt(nonce, plaintext, sealedBytes.AsSpan(NonceSize, plaintext.Length), sealedBytes.AsSpan(NonceSize + plaintext.Length), field.AssociatedData);
        return ActivePrefix + Base64Url.EncodeToString(sealedBytes);
    }

    /// <summary>The value as it was sealed. A value stored before sealing existed (no prefix) is returned as it is;
    /// the API reseals such rows on start-up.</summary>
    /// <exception cref="SealedValueException">Sealed under a key that is not configured, or altered.</exception>
    public string Unseal(string stored, SealedField field)
    {
        if (!IsSealed(stored)) return stored;
        var rest = stored.AsSpan(Prefix.Length);
        var separator = rest.IndexOf(':');
        if (separator < 0) throw new SealedValueException($"A sealed {field.Kind} of {field.Owner} is malformed.");
        var keyId = rest[..separator].ToString();
        if (keys.Find(keyId) is not { } key)
            throw new SealedValueException($"A sealed {field.Kind} of {field.Owner} was sealed under key {keyId}, which is not among the " +
                $"configured sealing keys ({string.Join(", ", keys.Ids)}). Add that key back to {SealingKeys.Setting} after the current one.");
        byte[] sealedBytes;
        try
        {
            sealedBytes = Base64Url.DecodeFromChars(rest[(separator + 1)..]);
        }
        catch (FormatException)
        {
            throw new SealedValueException($"A sealed {field.Kind} of {field.Owner} is malformed.");
        }
        if (sealedBytes.Length < NonceSize + TagSize) throw new SealedValueException($"A sealed {field.Kind} of {field.Owner} is malformed.");
        var length = sealedBytes.Length - NonceSize - TagSize;
        var plaintext = new byte[length];
        try
        {
            using var aes = new AesGcm(key.SealKey, TagSize);
            aes.Decrypt(sealedBytes.AsSpan(0, NonceSize), sealedBytes.AsSpan(NonceSize, length), sealedBytes.AsSpan(NonceSize + length), plaintext, field.AssociatedData);
        }
        catch (AuthenticationTagMismatchException)
        {
            throw new SealedValueException($"A sealed {field.Kind} of {field.Owner} does not belong there or was altered.");
        }
        return Encoding.UTF8.GetString(plaintext);
    }

    public Dictionary<string, string> SealHeaders(string endpointId, IReadOnlyDictionary<string, string> headers) =>
        headers.ToDictionary(h => h.Key, h => Seal(h.Value, SealedField.Header(endpointId, h.Key)), StringComparer.Ordinal);

    public Dictionary<string, string> UnsealHeaders(string endpointId, IReadOnlyDictionary<string, string> headers) =>
        headers.ToDictionary(h => h.Key, h => Unseal(h.Value, SealedField.Header(endpointId, h.Key)), StringComparer.Ordinal);
}

/// <summary>What a sealed value belongs to; authenticated with it.</summary>
public sealed record SealedField(string Kind, string Owner, string? Name = null)
{
    public static SealedField Secret(string endpointId) => new("signing secret", endpointId);

    public static SealedField Header(string endpointId, string name) => new("header value", endpointId, name);

    // Header names are case-insensitive; the value stays bound to the name whatever its case.
    internal byte[] AssociatedData => Encoding.UTF8.GetBytes($"herald\n{Kind}\n{Owner}\n{Name?.ToLowerInvariant()}");
}

/// <summary>A sealed value that cannot be unsealed: the key that sealed it is not configured, or the row was altered.</summary>
public sealed class SealedValueException(string message) : Exception(message);
