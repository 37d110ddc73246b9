namespace Herald.ApiService.Auth;

/// <summary>Configuration section <c>Herald:Auth</c>.</summary>
public sealed class AuthOptions
{
    public const string Section = "Herald:Auth";

    /// <summary>The bootstrap admin key (the AppHost's <c>admin-api-key</c> parameter). Admin keys created through the
    /// API live in the database alongside application keys.</summary>
    public string? AdminKey { get; set; }

    /// <summary>How long a key lookup is remembered. Revocation reaches other API replicas within this time.</summary>
    public TimeSpan KeyCacheDuration { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>How many key lookups and application settings one API replica remembers at most (a few hundred bytes
    /// each). Past it, unknown keys are forgotten first.</summary>
    public int CacheEntries { get; set; } = 100_000;

    /// <summary>Failed authentications one client address may have per second, counted across API replicas. Past it,
    /// until the next second, that address gets 429 for any key this replica does not already know (keys in use keep
    /// working). The address is the connection's peer: behind a proxy that hides clients, raise it. 0: no limit.</summary>
    public int FailuresPerSecond { get; set; } = 10;
}
