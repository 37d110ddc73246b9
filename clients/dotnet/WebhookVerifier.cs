using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace Herald.Client;

/// <summary>The webhook failed verification: it is not from Herald, was altered, or is too old to trust.</summary>
public sealed class WebhookVerificationException(string message) : Exception(message);

/// <summary>
/// Verifies a webhook Herald sent, as the Standard Webhooks specification says: HMAC-SHA256 over
/// <c>{webhook-id}.{webhook-timestamp}.{body}</c> with the endpoint's secret, compared in constant time with each
/// <c>v1,</c> signature of <c>webhook-signature</c> — so it accepts a webhook signed during a secret rotation by either
/// secret, which verifiers that check only the first signature do not — and a timestamp within the tolerance.
/// </summary>
public sealed class WebhookVerifier
{
    private readonly byte[][] _keys;
    private readonly TimeSpan _tolerance;
    private readonly TimeProvider _time;

    /// <param name="secrets">The endpoint's secret (<c>whsec_…</c>), and during a rotation the previous one too.</param>
    public WebhookVerifier(IEnumerable<string> secrets, TimeSpan? tolerance = null, TimeProvider? time = null)
    {
        _keys = [.. secrets.Select(Key)];
        if (_keys.Length == 0) throw new ArgumentException("At least one secret is needed.", nameof(secrets));
        _tolerance = tolerance ?? TimeSpan.FromMinutes(5);
        _time = time ?? TimeProvider.System;
    }

    public WebhookVerifier(string secret) : this([secret])
    {
    }

    /// <summary>Returns when the webhook is genuine; throws <see cref="WebhookVerificationException"/> otherwise.</summary>
    /// <param name="headers">The request's headers; names are matched without regard to case.</param>
    public void Verify(string body, IEnumerable<KeyValuePair<string, string>> headers)
    {
        var byName = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var (name, value) in headers) byName[name] = value;
        var id = Required(byName, "webhook-id");
        var timestamp = Required(byName, "webhook-timestamp");
        var signatures = Required(byName, "webhook-signature");

        if (!long.TryParse(timestamp, NumberStyles.None, CultureInfo.InvariantCulture, out var seconds))
            throw new WebhookVerificationException("webhook-timestamp is not a Unix time in seconds.");
        var age = _time.GetUtcNow() - DateTimeOffset.FromUnixTimeSeconds(seconds);
        if (age > _tolerance) throw new WebhookVerificationException($"The webhook is too old ({age.TotalSeconds:0} s).");
        if (-age > _tolerance) throw new WebhookVerificationException("The webhook's timestamp is in the future.");

        var signed = Encoding.UTF8.GetBytes($"{id}.{timestamp}.{body}");
        var expected = _keys.Select(key => HMACSHA256.HashData(key, signed)).ToList();
        foreach (var signature in signatures.Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            if (!signature.StartsWith("v1,", StringComparison.Ordinal)) continue;
            byte[] presented;
            try
            {
                presented = Convert.FromBase64String(signature[3..]);
            }
            catch (FormatException)
            {
                continue;
            }
            if (expected.Any(mac => CryptographicOperations.FixedTimeEquals(mac, presented))) return;
        }
        throw new WebhookVerificationException("No signature matches: the webhook was not signed with this endpoint's secret, or was altered.");
    }

    private static string Required(Dictionary<string, string> headers, string name) =>
        headers.TryGetValue(name, out var value) && !string.IsNullOrEmpty(value)
            ? value
            : throw new WebhookVerificationException($"The {name} header is missing.");

    private static byte[] Key(string secret)
    {
        var encoded = secret.StartsWith("whsec_", StringComparison.Ordinal) ? secret["whsec_".Length..] : secret;
        try
        {
            return Convert.FromBase64String(encoded);
        }
        catch (FormatException)
        {
            throw new ArgumentException("A secret is 'whsec_' and the base64 of its key.", nameof(secret));
        }
    }
}
