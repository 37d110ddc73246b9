using System.Security.Cryptography;

namespace Herald.Messages;

/// <summary>
/// Identifiers of the form <c>prefix_</c> + a ULID (48-bit millisecond time, 80 random bits, Crockford base32):
/// they sort by creation time, which keeps B-tree inserts append-only and cursor pagination simple.
/// </summary>
public static class SortableId
{
    private const string Alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

    public static string New(string prefix) => New(prefix, DateTimeOffset.UtcNow);

    public static string New(string prefix, DateTimeOffset time) => Make(prefix, time, random: true);

    /// <summary>The smallest id of <paramref name="time"/>'s millisecond: every id made at that time or later sorts at or
    /// above it, every id made earlier below it.</summary>
    public static string Lowest(string prefix, DateTimeOffset time) => Make(prefix, time, random: false);

    private static string Make(string prefix, DateTimeOffset time, bool random)
    {
        Span<byte> bytes = stackalloc byte[16];
        var milliseconds = (ulong)time.ToUnixTimeMilliseconds();
        for (var i = 5; i >= 0; i--)
        {
            bytes[i] = (byte)milliseconds;
            milliseconds >>= 8;
        }
        if (random) RandomNumberGenerator.Fill(bytes[6..]);
        else bytes[6..].Clear();

        Span<char> text = stackalloc char[prefix.Length + 1 + 26];
        prefix.CopyTo(text);
        text[prefix.Length] = '_';
        Encode(bytes, text[(prefix.Length + 1)..]);
        return new string(text);
    }

    /// <summary>The creation time encoded in an id made by <see cref="New(string)"/>, or null if it is not one.</summary>
    public static DateTimeOffset? TimeOf(string id)
    {
        var separator = id.LastIndexOf('_');
        var body = id.AsSpan(separator + 1);
        if (body.Length != 26) return null;
        ulong milliseconds = 0;
        // The first 10 characters carry 50 bits; the top 2 are always zero for a 48-bit timestamp.
        foreach (var c in body[..10])
        {
            var value = Alphabet.IndexOf(char.ToUpperInvariant(c));
            if (value < 0) return null;
            milliseconds = (milliseconds << 5) | (uint)value;
        }
        return milliseconds > (ulong)DateTimeOffset.MaxValue.ToUnixTimeMilliseconds()
            ? null
            : DateTimeOffset.FromUnixTimeMilliseconds((long)milliseconds);
    }

    private static void Encode(ReadOnlySpan<byte> bytes, Span<char> output)
    {
        // 128 bits as 26 base32 digits: the leading digit holds the top 3 bits.
        var high = ((ulong)bytes[0] << 56) | ((ulong)bytes[1] << 48) | ((ulong)bytes[2] << 40) | ((ulong)bytes[3] << 32)
                   | ((ulong)bytes[4] << 24) | ((ulong)bytes[5] << 16) | ((ulong)bytes[6] << 8) | bytes[7];
        var low = ((ulong)bytes[8] << 56) | ((ulong)bytes[9] << 48) | ((ulong)bytes[10] << 40) | ((ulong)bytes[11] << 32)
                  | ((ulong)bytes[12] << 24) | ((ulong)bytes[13] << 16) | ((ulong)bytes[14] << 8) | bytes[15];
        var value = (UInt128)high << 64 | low;
        for (var i = 25; i >= 0; i--)
        {
            output[i] = Alphabet[(int)(value & 31)];
            value >>= 5;
        }
    }
}
