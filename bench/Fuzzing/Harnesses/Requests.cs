using System.Security.Claims;
using Herald.ApiService.Auth;
using Microsoft.AspNetCore.Http.Json;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace Herald.Fuzzing.Harnesses;

/// <summary>Requests as the API's handlers see them, built in memory: no server, no socket.</summary>
internal static class Requests
{
    // What JsonBody.ReadJsonAsync asks the request's services for: the API configures no JSON options of its own.
    private static readonly IServiceProvider Services = new ServiceCollection().AddOptions<JsonOptions>().Services.BuildServiceProvider();

    public static HttpContext Json(ReadOnlySpan<byte> body, Caller? caller = null)
    {
        var context = new DefaultHttpContext { RequestServices = Services };
        context.Request.Method = HttpMethods.Post;
        context.Request.ContentType = "application/json";
        context.Request.ContentLength = body.Length;
        context.Request.Body = new MemoryStream(body.ToArray(), writable: false);
        if (caller is not null) context.User = caller.ToPrincipal("ApiKey");
        return context;
    }

    /// <summary>The query string a client sent, as Kestrel hands it over: raw, still percent-encoded.</summary>
    public static HttpContext Query(string query)
    {
        var context = new DefaultHttpContext { RequestServices = Services };
        context.Request.Method = HttpMethods.Get;
        context.Request.QueryString = QueryString.FromUriComponent("?" + query.TrimStart('?'));
        return context;
    }

    public static ClaimsPrincipal Admin => new Caller("key_fuzz", null).ToPrincipal("ApiKey");
}

/// <summary>
/// A PostgreSQL that is never there: a Unix socket folder that does not exist, so a connection fails at once without
/// touching the network. Input that gets as far as a query has passed every check in front of the database; the
/// harnesses take that <see cref="NpgsqlException"/> as "accepted".
/// </summary>
internal static class Unreachable
{
    public static NpgsqlDataSource Database { get; } =
        NpgsqlDataSource.Create("Host=/nonexistent/herald-fuzz;Database=herald;Username=fuzz;Pooling=false;Timeout=1");

    public static bool IsDatabase(Exception exception) => exception is NpgsqlException;
}
