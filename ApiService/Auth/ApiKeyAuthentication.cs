using System.Text.Encodings.Web;
using Herald.ApiService.Caching;
using Herald.ApiService.Problems;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Caching.Memory;
using Microsoft.Extensions.Options;

namespace Herald.ApiService.Auth;

/// <summary><c>Authorization: Bearer &lt;api key&gt;</c> on REST and gRPC alike (gRPC carries it as metadata).</summary>
internal sealed class ApiKeyAuthenticationHandler(
    IOptionsMonitor<AuthenticationSchemeOptions> options,
    ILoggerFactory logger,
    UrlEncoder encoder,
    ApiKeyDirectory keys) : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    public const string SchemeName = "ApiKey";

    protected override async Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        var header = Request.Headers.Authorization.ToString();
        if (string.IsNullOrEmpty(header)) return AuthenticateResult.NoResult();
        if (!header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
            return AuthenticateResult.Fail("The Authorization header must be 'Bearer <api key>'.");

        var caller = await keys.FindAsync(header["Bearer ".Length..].Trim(), Context.RequestAborted);
        return caller is null
            ? AuthenticateResult.Fail("The API key is not valid or has been revoked.")
            : AuthenticateResult.Success(new AuthenticationTicket(caller.ToPrincipal(SchemeName), SchemeName));
    }

    protected override Task HandleChallengeAsync(AuthenticationProperties properties)
    {
        Response.Headers.WWWAuthenticate = "Bearer";
        return ProblemResponses.WriteAsync(Context, new ApiError(ApiErrorKind.Unauthenticated,
            "A valid API key is required: send 'Authorization: Bearer <api key>'."));
    }
}

public static class ApiKeyAuthenticationExtensions
{
    public static void AddApiKeyAuthentication(this IHostApplicationBuilder builder)
    {
        builder.Services.Configure<AuthOptions>(builder.Configuration.GetSection(AuthOptions.Section));
        builder.Services.AddMemoryCache();
        builder.Services.AddOptions<MemoryCacheOptions>().Configure<IOptions<AuthOptions>>((cache, auth) => cache.SizeLimit = auth.Value.CacheEntries);
        builder.Services.AddSingleton<RefreshingCache>();
        builder.Services.AddSingleton<ApiKeyDirectory>();
        builder.Services.AddAuthentication(ApiKeyAuthenticationHandler.SchemeName)
            .AddScheme<AuthenticationSchemeOptions, ApiKeyAuthenticationHandler>(ApiKeyAuthenticationHandler.SchemeName, null);
        builder.Services.AddAuthorization();
    }
}
