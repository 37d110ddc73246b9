using System.Security.Cryptography;
using System.Text;
using Confluent.Kafka;

namespace Herald.Secrets;

/// <summary>
/// Proves that a record on Herald's topics was written by one of Herald's services: each carries, in its
/// <see cref="Header"/> header, an HMAC-SHA256 of its topic, key and value under a key derived from the sealing keys,
/// which only Herald's services hold. A consumer skips a record without a valid one, so whoever can write to Kafka still
/// cannot have the Processor sign bytes that did not come from Herald. Skipping loses nothing: what a genuine record
/// would have done is also recorded in PostgreSQL, where the sweeps find it.
/// </summary>
public sealed class RecordAuthenticator(SealingKeys keys)
{
    public const string Header = "herald-auth";

    private const int KeyIdSize = 4;

    private readonly byte[] _activeId = Convert.FromHexString(keys.Active.Id);

    /// <summary>Adds the record's authentication to <paramref name="headers"/>.</summary>
    public void Stamp(Headers headers, string topic, string key, byte[] value)
    {
        var stamp = new byte[KeyIdSize + HMACSHA256.HashSizeInBytes];
        _activeId.CopyTo(stamp, 0);
        Compute(keys.Active.RecordKey, topic, key, value, stamp.AsSpan(KeyIdSize));
        headers.Remove(Header);
        headers.Add(Header, stamp);
    }

    /// <summary>Whether the record carries a valid authentication under any configured key.</summary>
    public bool IsAuthentic(Headers? headers, string topic, string? key, byte[]? value)
    {
        if (headers is null || key is null || value is null || !headers.TryGetLastBytes(Header, out var stamp)) return false;
        if (stamp.Length != KeyIdSize + HMACSHA256.HashSizeInBytes) return false;
        if (keys.Find(Convert.ToHexStringLower(stamp.AsSpan(0, KeyIdSize))) is not { } signer) return false;
        Span<byte> expected = stackalloc byte[HMACSHA256.HashSizeInBytes];
        Compute(signer.RecordKey, topic, key, value, expected);
        return CryptographicOperations.FixedTimeEquals(expected, stamp.AsSpan(KeyIdSize));
    }

    private static void Compute(byte[] recordKey, string topic, string key, byte[] value, Span<byte> destination)
    {
        using var hmac = IncrementalHash.CreateHMAC(HashAlgorithmName.SHA256, recordKey);
        // Lengths first, so no two (topic, key, value) triples feed the same bytes.
        Span<byte> lengths = stackalloc byte[12];
        BitConverter.TryWriteBytes(lengths, Encoding.UTF8.GetByteCount(topic));
        BitConverter.TryWriteBytes(lengths[4..], Encoding.UTF8.GetByteCount(key));
        BitConverter.TryWriteBytes(lengths[8..], value.Length);
        hmac.AppendData(lengths);
        hmac.AppendData(Encoding.UTF8.GetBytes(topic));
        hmac.AppendData(Encoding.UTF8.GetBytes(key));
        hmac.AppendData(value);
        hmac.GetHashAndReset(destination);
    }
}
