using Microsoft.Extensions.Caching.Memory;

namespace Herald.ApiService.Applications;

/// <summary>What create-message needs to know about an application, remembered for a few seconds so the ingest hot
/// path does not read the application row per request. A deleted application is caught at commit (foreign key).</summary>
public sealed class ApplicationSettings(ApplicationService applications, IMemoryCache cache)
{
    private static readonly TimeSpan Lifetime = TimeSpan.FromSeconds(5);

    public async ValueTask<ApplicationResponse?> GetAsync(string applicationId, CancellationToken cancellationToken)
    {
        var key = "application:" + applicationId;
        if (cache.TryGetValue(key, out ApplicationResponse? application)) return application;
        application = await applications.FindAsync(applicationId, cancellationToken);
        cache.Set(key, application, Lifetime);
        return application;
    }
}
