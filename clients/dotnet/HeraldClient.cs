using Herald.Client.Generated;
using Microsoft.Kiota.Abstractions;
using Microsoft.Kiota.Abstractions.Authentication;
using Microsoft.Kiota.Http.HttpClientLibrary;

namespace Herald.Client;

/// <summary>Creates the generated client (<see cref="HeraldApiClient"/>) for one API key.</summary>
public static class HeraldClient
{
    /// <param name="baseUrl">Where the API's HTTP port is, e.g. <c>https://herald.example.com</c> (routes start at <c>/api/v1</c>).</param>
    /// <param name="apiKey">An application's key (<c>hk_app_…</c>) or an admin key (<c>hk_admin_…</c>).</param>
    /// <param name="httpClient">Yours, to share its handler and settings; a new one otherwise.</param>
    public static HeraldApiClient Create(Uri baseUrl, string apiKey, HttpClient? httpClient = null)
    {
        ArgumentNullException.ThrowIfNull(baseUrl);
        ArgumentException.ThrowIfNullOrWhiteSpace(apiKey);
        var adapter = new HttpClientRequestAdapter(new ApiKeyAuthentication(apiKey), httpClient: httpClient)
        {
            BaseUrl = baseUrl.ToString().TrimEnd('/'),
        };
        return new HeraldApiClient(adapter);
    }

    /// <summary><c>Authorization: Bearer &lt;api key&gt;</c> on every request.</summary>
    private sealed class ApiKeyAuthentication(string apiKey) : IAuthenticationProvider
    {
        public Task AuthenticateRequestAsync(RequestInformation request, Dictionary<string, object>? additionalAuthenticationContext = null,
            CancellationToken cancellationToken = default)
        {
            request.Headers.TryAdd("Authorization", "Bearer " + apiKey);
            return Task.CompletedTask;
        }
    }
}

/// <summary>
/// Idempotency keys for POSTs: send the same key when retrying the same request, and Herald answers the retry with
/// the first outcome instead of doing it twice (a new message, a new endpoint). Use one per logical operation:
/// <code>await api.Api.V1.Apps[app].Messages.PostAsync(body, Idempotency.Key(orderId + ":paid"));</code>
/// </summary>
public static class Idempotency
{
    public const string Header = "idempotency-key";

    /// <summary>Configures a request to carry <paramref name="key"/> (a new random key when null).</summary>
    public static Action<RequestConfiguration<T>> Key<T>(string? key = null) where T : class, new()
    {
        var value = key ?? Guid.NewGuid().ToString("N");
        return configuration => configuration.Headers.Add(Header, value);
    }

    /// <inheritdoc cref="Key{T}(string?)"/>
    public static Action<RequestConfiguration<DefaultQueryParameters>> Key(string? key = null) => Key<DefaultQueryParameters>(key);
}
