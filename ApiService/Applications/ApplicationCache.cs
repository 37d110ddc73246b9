using Herald.ApiService.Caching;

namespace Herald.ApiService.Applications;

/// <summary>What create-message needs to know about an application, remembered so the ingest hot path does not read the
/// application row per request (see <see cref="RefreshingCache"/>). A deleted application is caught at commit (foreign key).</summary>
public sealed class ApplicationCache(ApplicationService applications, RefreshingCache cache)
{
    private static readonly TimeSpan Fresh = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan Stale = TimeSpan.FromMinutes(5);

    public ValueTask<ApplicationResponse?> GetAsync(string applicationId, CancellationToken cancellationToken) =>
        cache.GetAsync("application:" + applicationId, ct => applications.FindAsync(applicationId, ct), Fresh, Stale, cancellationToken);
}
