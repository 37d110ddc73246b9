using System.Collections.Concurrent;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using k8s.Models;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Herald.Tests.Harness.Kubernetes;

/// <summary>A request as a fault sees it.</summary>
public sealed record StandInRequest(string Method, string Path, JsonObject? Body);

/// <param name="HistoryLimit">Changes kept for watches; a watch from before the oldest kept is 410 Expired.</param>
/// <param name="BookmarkInterval">How often a watch that asked for bookmarks gets one (the API server: about a minute).</param>
/// <param name="Rules">RBAC rules the operator's requests are held to (403 Forbidden outside them, as the API server's RBAC
/// authorizer answers); requests from the tests' own clients (<see cref="StandInApiServer.TestClientHeader"/>) are not.</param>
public sealed record StandInOptions(int HistoryLimit = 1000, TimeSpan? BookmarkInterval = null, IReadOnlyList<V1PolicyRule>? Rules = null);

/// <summary>A request as RBAC sees it: <c>get</c> <c>herald.dev</c> <c>webhookendpoints/status</c>.</summary>
public sealed record StandInAccess(string Verb, string Group, string Resource);

/// <summary>
/// An in-process stand-in for the Kubernetes API server (Kestrel on loopback, random port), serving exactly what the
/// operator relies on for the types in <see cref="ResourceKinds"/>: list and watch from a resource version (with
/// bookmarks, and 410 Expired past the history kept), create, get, update with optimistic concurrency, the status
/// subresource, delete with finalizers and deletion timestamps. The semantics live in <see cref="ObjectStore"/>; this
/// class is the HTTP surface: paths, query parameters, Status objects, the watch stream.
/// </summary>
public sealed class StandInApiServer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly TimeSpan _bookmarkInterval;

    /// <summary>Marks a request as the test's own (see <see cref="StandInOptions.Rules"/>).</summary>
    public const string TestClientHeader = "X-Herald-Test-Client";

    private readonly IReadOnlyList<V1PolicyRule>? _rules;
    private readonly ConcurrentDictionary<StandInAccess, int> _operatorAccesses = new();

    public ObjectStore Store { get; }

    /// <summary>What the operator's requests (every request not from a test client) have done, allowed or not.</summary>
    public IReadOnlyCollection<StandInAccess> OperatorAccesses => [.. _operatorAccesses.Keys];

    /// <summary>A fault to inject: given a request (its body read), the status to fail it with (as a Status object), or null to serve it.</summary>
    public Func<StandInRequest, int?>? Fault { get; set; }
    public string Url { get; private set; } = "";

    private int _expiredWatches;
    /// <summary>Watches answered 410 Expired so far.</summary>
    public int ExpiredWatches => Volatile.Read(ref _expiredWatches);

    private StandInApiServer(StandInOptions options)
    {
        Store = new ObjectStore(options.HistoryLimit);
        _bookmarkInterval = options.BookmarkInterval ?? TimeSpan.FromMinutes(1);
        _rules = options.Rules;
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        _app = builder.Build();
        _app.Map("/{**path}", HandleAsync);
    }

    public static async Task<StandInApiServer> StartAsync(StandInOptions? options = null)
    {
        var server = new StandInApiServer(options ?? new());
        await server._app.StartAsync();
        server.Url = server._app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return server;
    }

    private async Task HandleAsync(HttpContext context)
    {
        try
        {
            var method = context.Request.Method;
            var body = method is "PUT" or "POST" ? await BodyAsync(context) : null;
            if (Fault?.Invoke(new StandInRequest(method, context.Request.Path.Value ?? "", body)) is { } injected)
                throw new ApiError(injected, "InternalError", "injected by the test");
            var route = Route.Parse(context.Request.Path.Value ?? "") ?? throw new ApiError(404, "NotFound", "the server could not find the requested resource");
            var kind = ResourceKinds.Find(route.Group, route.Version, route.Plural) ?? throw new ApiError(404, "NotFound", "the server could not find the requested resource");
            var query = context.Request.Query;
            if (!context.Request.Headers.ContainsKey(TestClientHeader))
            {
                var access = route.Access(method, query["watch"] is var watching && (watching == "true" || watching == "1"));
                _operatorAccesses.TryAdd(access, 0);
                if (_rules is not null && !_rules.Any(rule => Allows(rule, access)))
                    throw new ApiError(403, "Forbidden", $"cannot {access.Verb} resource \"{access.Resource}\" in API group \"{access.Group}\"");
            }

            if (route.Name is null && method == "GET" && query["watch"] is var w && (w == "true" || w == "1"))
            {
                await WatchAsync(context, kind, route.Namespace);
                return;
            }
            JsonObject result = (method, route.Name, route.Status) switch
            {
                ("GET", null, false) => ListJson(kind, route.Namespace),
                ("POST", null, false) when route.Namespace is not null => Store.Create(kind, route.Namespace, body!),
                ("GET", not null, _) when route.Namespace is not null => Store.Get(kind, route.Namespace, route.Name),
                ("PUT", not null, var status) when route.Namespace is not null => Store.Update(kind, route.Namespace, route.Name, body!, status),
                ("DELETE", not null, false) when route.Namespace is not null => Store.Delete(kind, route.Namespace, route.Name),
                _ => throw new ApiError(405, "MethodNotAllowed", $"{method} is not supported by the stand-in here"),
            };
            context.Response.StatusCode = method == "POST" ? 201 : 200;
            await WriteJsonAsync(context, result);
        }
        catch (ApiError error)
        {
            context.Response.StatusCode = error.Code;
            await WriteJsonAsync(context, StatusObject(error));
        }
    }

    private static bool Allows(V1PolicyRule rule, StandInAccess access) =>
        rule.ApiGroups.Contains(access.Group) && rule.Resources.Contains(access.Resource) && rule.Verbs.Contains(access.Verb);

    private JsonObject ListJson(ResourceKind kind, string? ns)
    {
        var (items, version) = Store.List(kind, ns);
        return new JsonObject
        {
            ["apiVersion"] = kind.ApiVersion,
            ["kind"] = kind.Kind + "List",
            ["metadata"] = new JsonObject { ["resourceVersion"] = version.ToString(CultureInfo.InvariantCulture) },
            ["items"] = new JsonArray([.. items]),
        };
    }

    /// <summary>
    /// A watch: one JSON event per line, flushed as it happens. An expired version is answered as the API server's
    /// watch cache does: HTTP 200 and a single ERROR event holding the 410 Status, then the end of the stream.
    /// </summary>
    private async Task WatchAsync(HttpContext context, ResourceKind kind, string? ns)
    {
        var query = context.Request.Query;
        string? from = query["resourceVersion"];
        var bookmarks = query["allowWatchBookmarks"] == "true";
        var timeout = int.TryParse(query["timeoutSeconds"], CultureInfo.InvariantCulture, out var seconds) ? TimeSpan.FromSeconds(seconds) : Timeout.InfiniteTimeSpan;
        using var ends = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted);
        if (timeout != Timeout.InfiniteTimeSpan) ends.CancelAfter(timeout);

        context.Response.StatusCode = 200;
        context.Response.ContentType = "application/json";
        await context.Response.StartAsync(context.RequestAborted);

        (IReadOnlyList<StoredEvent> Backlog, System.Threading.Channels.ChannelReader<StoredEvent> Live, Action Stop) watch;
        try
        {
            long? fromVersion = string.IsNullOrEmpty(from) || from == "0" ? null : long.Parse(from, CultureInfo.InvariantCulture);
            watch = Store.Watch(kind, ns, fromVersion);
        }
        catch (ApiError error)
        {
            if (error.Code == 410) Interlocked.Increment(ref _expiredWatches);
            await WriteLineAsync(context, new JsonObject { ["type"] = "ERROR", ["object"] = StatusObject(error) });
            return;
        }
        try
        {
            foreach (var e in watch.Backlog) await WriteLineAsync(context, Event(e));
            while (!ends.IsCancellationRequested)
            {
                using var tick = CancellationTokenSource.CreateLinkedTokenSource(ends.Token);
                if (bookmarks) tick.CancelAfter(_bookmarkInterval);
                try
                {
                    if (!await watch.Live.WaitToReadAsync(tick.Token)) return;
                    while (watch.Live.TryRead(out var e)) await WriteLineAsync(context, Event(e));
                }
                catch (OperationCanceledException) when (!ends.IsCancellationRequested)
                {
                    // A bookmark carries the latest version: the watcher may resume from it without a backlog.
                    await WriteLineAsync(context, new JsonObject
                    {
                        ["type"] = "BOOKMARK",
                        ["object"] = new JsonObject
                        {
                            ["apiVersion"] = kind.ApiVersion,
                            ["kind"] = kind.Kind,
                            ["metadata"] = new JsonObject { ["resourceVersion"] = Store.Revision.ToString(CultureInfo.InvariantCulture) },
                        },
                    });
                }
            }
        }
        catch (OperationCanceledException) { }
        catch (IOException) { } // the watcher went away
        finally
        {
            watch.Stop();
        }
    }

    private static JsonObject Event(StoredEvent e) => new() { ["type"] = e.Type, ["object"] = e.Object.DeepClone() };

    private static JsonObject StatusObject(ApiError error) => new()
    {
        ["kind"] = "Status",
        ["apiVersion"] = "v1",
        ["metadata"] = new JsonObject(),
        ["status"] = "Failure",
        ["message"] = error.Message,
        ["reason"] = error.Reason,
        ["code"] = error.Code,
    };

    private static async Task<JsonObject> BodyAsync(HttpContext context)
    {
        try
        {
            return await JsonSerializer.DeserializeAsync<JsonObject>(context.Request.Body) ?? throw new ApiError(400, "BadRequest", "empty body");
        }
        catch (JsonException e)
        {
            throw new ApiError(400, "BadRequest", e.Message);
        }
    }

    private static async Task WriteJsonAsync(HttpContext context, JsonObject body)
    {
        context.Response.ContentType = "application/json";
        await context.Response.WriteAsync(body.ToJsonString(), Encoding.UTF8);
    }

    private static async Task WriteLineAsync(HttpContext context, JsonObject line)
    {
        await context.Response.WriteAsync(line.ToJsonString() + "\n", Encoding.UTF8);
        await context.Response.Body.FlushAsync();
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }

    /// <summary>
    /// <c>/api/v1/…</c> (the core group) or <c>/apis/{group}/{version}/…</c>, then <c>namespaces/{ns}/{plural}[/{name}[/status]]</c>
    /// or <c>{plural}</c> across namespaces.
    /// </summary>
    private sealed record Route(string Group, string Version, string? Namespace, string Plural, string? Name, bool Status)
    {
        /// <summary>The verb and resource the API server's authorizer sees for this route.</summary>
        public StandInAccess Access(string method, bool watch) => new(
            (method, Name) switch
            {
                ("GET", null) => watch ? "watch" : "list",
                ("GET", _) => "get",
                ("POST", _) => "create",
                ("PUT", _) => "update",
                ("PATCH", _) => "patch",
                ("DELETE", null) => "deletecollection",
                ("DELETE", _) => "delete",
                _ => method.ToLowerInvariant(),
            },
            Group, Status ? Plural + "/status" : Plural);

        public static Route? Parse(string path)
        {
            var s = path.Trim('/').Split('/');
            int i;
            string group, version;
            if (s is ["api", var v, ..]) (group, version, i) = ("", v, 2);
            else if (s is ["apis", var g, var v2, ..]) (group, version, i) = (g, v2, 3);
            else return null;
            var rest = s[i..];
            return rest switch
            {
                [var plural] => new(group, version, null, plural, null, false),
                ["namespaces", var ns, var plural] => new(group, version, ns, plural, null, false),
                ["namespaces", var ns, var plural, var name] => new(group, version, ns, plural, name, false),
                ["namespaces", var ns, var plural, var name, "status"] => new(group, version, ns, plural, name, true),
                _ => null,
            };
        }
    }
}
