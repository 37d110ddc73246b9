using Grpc.Core;

namespace Herald.ApiService.Idempotency;

/// <summary>The idempotency key (with its caller scope) a request runs under, for operations that record it with what
/// they create, so one key never creates two of them (create-message).</summary>
public static class IdempotencyKeys
{
    private static readonly object Slot = new();

    public static void Set(HttpContext context, string scopedKey) => context.Items[Slot] = scopedKey;

    public static void Set(ServerCallContext context, string scopedKey) => context.UserState[Slot] = scopedKey;

    public static string? Of(HttpContext context) => context.Items.TryGetValue(Slot, out var key) ? key as string : null;

    public static string? Of(ServerCallContext context) => context.UserState.TryGetValue(Slot, out var key) ? key as string : null;
}
