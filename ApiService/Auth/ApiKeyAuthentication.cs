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
    ApiKeyDirectory keys,
    AuthenticationFailures failures) : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    public const string SchemeName = "ApiKey";

    protected override async Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        var header = Request.Headers.Authorization.ToString();
        if (string.IsNullOrEmpty(header)) return AuthenticateResult.NoResult();
        var address = Context.Connection.RemoteIpAddress;
        var presented = header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) ? header["Bearer ".Length..].Trim() : null;

        // An address past its failures: keys this replica knows still work; anything that would need a lookup waits.
        if (failures.RetryAfter(address) is { } retryAfter)
        {
            return presented is not null && keys.FindKnown(presented) is { } known
                ? Success(known)
                : AuthenticateResult.Fail(new TooManyFailures(retryAfter));
        }

        var caller = presented is null ? null : await keys.FindAsync(presented, Context.RequestAborted);
        if (caller is not null) return Success(caller);
        await failures.CountAsync(address);
        return AuthenticateResult.Fail(presented is null
            ? "The Authorization header must be 'Bearer <api key>'."
            : "The API key is not valid or has been revoked.");
    }

    protected override async Task HandleChallengeAsync(AuthenticationProperties properties)
    {
        if ((await HandleAuthenticateOnceSafeAsync()).Failure is TooManyFailures refused)
        {
            await ProblemResponses.WriteAsync(Context, new ApiError(ApiErrorKind.RateLimited,
                "Too many failed authentications from this address; retry after the Retry-After delay.") { RetryAfter = refused.RetryAfter });
            return;
        }
        Response.Headers.WWWAuthenticate = "Bearer";
        await ProblemResponses.WriteAsync(Context, new ApiError(ApiErrorKind.Unauthenticated,
            "A valid API key is required: send 'Authorization: Bearer <api key>'."));
    }

    private static AuthenticateResult Success(Caller caller) =>
        AuthenticateResult.Success(new AuthenticationTicket(caller.ToPrincipal(SchemeName), SchemeName));

    private sealed class TooManyFailures(TimeSpan retryAfter) : Exception("Too many failed authentications from this address.")
    {
        public TimeSpan RetryAfter { get; } = retryAfter;
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
        builder.Services.AddSingleton<AuthenticationFailures>();
        builder.Services.AddAuthentication(ApiKeyAuthenticationHandler.SchemeName)
            .AddScheme<AuthenticationSchemeOptions, ApiKeyAuthenticationHandler>(ApiKeyAuthenticationHandler.SchemeName, null);
        builder.Services.AddAuthorization();
    }
}
