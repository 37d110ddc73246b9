using System.Net;

namespace Herald.Tests.Harness;

/// <summary>A portal session over plain HTTP: a cookie jar, no redirects followed, so tests see where the portal sends
/// the browser.</summary>
public sealed class PortalSession : IDisposable
{
    private readonly HttpClient _http;

    private PortalSession(Uri api)
    {
        Cookies = new CookieContainer();
        _http = new HttpClient(new HttpClientHandler { CookieContainer = Cookies, AllowAutoRedirect = false }) { BaseAddress = api };
    }

    public CookieContainer Cookies { get; }

    public HttpClient Http => _http;

    /// <summary>Posts the link's token as the access page does; returns where the portal redirected.</summary>
    public static async Task<(PortalSession Session, string? Location)> StartAsync(Uri api, string token)
    {
        var session = new PortalSession(api);
        using var response = await session._http.PostAsync("/portal/session", new FormUrlEncodedContent([new("token", token)]));
        Assert.Equal(HttpStatusCode.Redirect, response.StatusCode);
        return (session, response.Headers.Location?.ToString());
    }

    public async Task<(HttpStatusCode Status, string Body, string? Location)> GetAsync(string path)
    {
        using var response = await _http.GetAsync(path);
        return (response.StatusCode, await response.Content.ReadAsStringAsync(), response.Headers.Location?.ToString());
    }

    public void Dispose() => _http.Dispose();
}
