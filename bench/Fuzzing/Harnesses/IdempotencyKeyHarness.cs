using System.Text;
using Herald.ApiService.Idempotency;
using Herald.ApiService.Problems;

namespace Herald.Fuzzing.Harnesses;

/// <summary>
/// An <c>idempotency-key</c> header value through <see cref="IdempotencyStore.ClaimAsync"/>, which checks it before its
/// first query: refused with a 400, or accepted (it reaches the database, here one that is never there). An accepted
/// key is storable, and its scoped form splits back into the caller's scope and the key.
/// </summary>
public sealed class IdempotencyKeyHarness : IHarness
{
    public string Name => "idempotency-key";

    public string Parses => "idempotency-key header values (REST header, gRPC metadata)";

    private static readonly IdempotencyStore Store = new(Unreachable.Database, TimeProvider.System);
    private static readonly byte[] RequestHash = new byte[32];

    public void Run(ReadOnlySpan<byte> input)
    {
        // Header values arrive as Latin-1 from Kestrel, UTF-8 from gRPC metadata: try both readings.
        Claim(Encoding.Latin1.GetString(input));
        Claim(Encoding.UTF8.GetString(input));
    }

    private static void Claim(string key)
    {
        // The filter and the interceptor only claim a key that is there.
        if (key.Length == 0) return;
        try
        {
            Store.ClaimAsync("app_fuzz", key, RequestHash, CancellationToken.None).GetAwaiter().GetResult();
            throw new InvariantBroken("a claim succeeded without a database");
        }
        catch (ApiError error) when (error.Kind == ApiErrorKind.Validation)
        {
            return;
        }
        catch (Exception exception) when (Unreachable.IsDatabase(exception))
        {
            InvariantBroken.Unless(StorableText.IsStorable(key) && key.Length <= 256, "accepted a key PostgreSQL cannot store");
            var scoped = IdempotencyStore.Scoped("app_fuzz", key);
            var newline = scoped.IndexOf('\n', StringComparison.Ordinal);
            InvariantBroken.Unless(scoped[..newline] == "app_fuzz" && scoped[(newline + 1)..] == key, "the scoped key does not split back");
        }
    }
}
