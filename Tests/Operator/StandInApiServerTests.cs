using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using Herald.Tests.Harness.Kubernetes;
using k8s;
using k8s.Autorest;
using k8s.LeaderElection;
using k8s.LeaderElection.ResourceLock;
using k8s.Models;

namespace Herald.Tests.Operator;

/// <summary>
/// Pins each Kubernetes API behaviour the stand-in implements, driven through the official client as the operator
/// drives it. Every test names the behaviour it pins; the operator relies on nothing the stand-in does not have a test for.
/// </summary>
public sealed class StandInApiServerTests : IAsyncLifetime
{
    private const string Group = "herald.dev", Version = "v1", Ns = "team-a", Plural = "webhookendpoints";
    private StandInApiServer _server = null!;
    private Kubernetes _client = null!;

    public async Task InitializeAsync()
    {
        _server = await StandInApiServer.StartAsync(new(HistoryLimit: 50, BookmarkInterval: TimeSpan.FromMilliseconds(300)));
        _client = new Kubernetes(new KubernetesClientConfiguration { Host = _server.Url });
    }

    public async Task DisposeAsync()
    {
        _client.Dispose();
        await _server.DisposeAsync();
    }

    private static JsonObject Endpoint(string name, string url = "https://example.com/hook", params string[] finalizers) => new()
    {
        ["apiVersion"] = "herald.dev/v1",
        ["kind"] = "WebhookEndpoint",
        ["metadata"] = new JsonObject { ["name"] = name, ["finalizers"] = new JsonArray([.. finalizers.Select(f => (JsonNode)f!)]) },
        ["spec"] = new JsonObject { ["applicationRef"] = "acme", ["url"] = url },
        ["status"] = new JsonObject { ["heraldId"] = "set-by-client" },
    };

    private Task<JsonObject> CreateAsync(JsonObject body) => _client.CustomObjects.CreateNamespacedCustomObjectAsync<JsonObject>(body, Group, Version, Ns, Plural);
    private Task<JsonObject> GetAsync(string name) => _client.CustomObjects.GetNamespacedCustomObjectAsync<JsonObject>(Group, Version, Ns, Plural, name);
    private Task<JsonObject> ReplaceAsync(JsonObject body) => _client.CustomObjects.ReplaceNamespacedCustomObjectAsync<JsonObject>(body, Group, Version, Ns, Plural, Name(body));
    private Task<JsonObject> ReplaceStatusAsync(JsonObject body) => _client.CustomObjects.ReplaceNamespacedCustomObjectStatusAsync<JsonObject>(body, Group, Version, Ns, Plural, Name(body));
    private Task<JsonObject> DeleteAsync(string name) => _client.CustomObjects.DeleteNamespacedCustomObjectAsync<JsonObject>(Group, Version, Ns, Plural, name);

    private static string Name(JsonObject o) => o["metadata"]!["name"]!.GetValue<string>();
    private static string Rv(JsonObject o) => o["metadata"]!["resourceVersion"]!.GetValue<string>();
    private static long Generation(JsonObject o) => o["metadata"]!["generation"]!.GetValue<long>();

    private static async Task<HttpOperationException> FailsAsync(Func<Task> call) => await Assert.ThrowsAsync<HttpOperationException>(call);

    [Fact]
    public async Task Create_sets_server_fields_ignores_status_and_refuses_a_second_object_of_the_name()
    {
        var created = await CreateAsync(Endpoint("ep-1"));
        Assert.NotNull(created["metadata"]!["uid"]);
        Assert.NotNull(created["metadata"]!["creationTimestamp"]);
        Assert.Equal(1, Generation(created));
        Assert.Equal(Ns, created["metadata"]!["namespace"]!.GetValue<string>());
        Assert.Null(created["status"]); // the status subresource owns status: a create does not set it

        var again = await FailsAsync(() => CreateAsync(Endpoint("ep-1")));
        Assert.Equal(HttpStatusCode.Conflict, again.Response.StatusCode);
        Assert.Contains("AlreadyExists", again.Response.Content);

        var missing = await FailsAsync(() => GetAsync("nope"));
        Assert.Equal(HttpStatusCode.NotFound, missing.Response.StatusCode);
    }

    [Fact]
    public async Task List_returns_the_items_and_the_version_to_watch_from()
    {
        await CreateAsync(Endpoint("ep-b"));
        await CreateAsync(Endpoint("ep-a"));
        var list = await _client.CustomObjects.ListNamespacedCustomObjectAsync<JsonObject>(Group, Version, Ns, Plural);
        Assert.Equal(["ep-a", "ep-b"], list["items"]!.AsArray().Select(i => Name(i!.AsObject())));
        Assert.Equal(_server.Store.Revision.ToString(), list["metadata"]!["resourceVersion"]!.GetValue<string>());
        Assert.Equal("WebhookEndpointList", list["kind"]!.GetValue<string>());

        var elsewhere = await _client.CustomObjects.ListNamespacedCustomObjectAsync<JsonObject>(Group, Version, "team-b", Plural);
        Assert.Empty(elsewhere["items"]!.AsArray());
        var everywhere = await _client.CustomObjects.ListClusterCustomObjectAsync<JsonObject>(Group, Version, Plural);
        Assert.Equal(2, everywhere["items"]!.AsArray().Count);
    }

    [Fact]
    public async Task An_update_with_a_stale_resource_version_is_409_Conflict_and_one_without_is_422_for_a_custom_resource()
    {
        var created = await CreateAsync(Endpoint("ep-1"));
        var first = created.DeepClone().AsObject();
        first["spec"]!["url"] = "https://example.com/one";
        await ReplaceAsync(first);

        var stale = created.DeepClone().AsObject();
        stale["spec"]!["url"] = "https://example.com/two";
        var conflict = await FailsAsync(() => ReplaceAsync(stale));
        Assert.Equal(HttpStatusCode.Conflict, conflict.Response.StatusCode);
        Assert.Contains("\"reason\":\"Conflict\"", conflict.Response.Content);

        var unversioned = (await GetAsync("ep-1")).DeepClone().AsObject();
        unversioned["metadata"]!.AsObject().Remove("resourceVersion");
        var invalid = await FailsAsync(() => ReplaceAsync(unversioned));
        Assert.Equal(HttpStatusCode.UnprocessableEntity, invalid.Response.StatusCode);
        Assert.Equal("https://example.com/one", (await GetAsync("ep-1"))["spec"]!["url"]!.GetValue<string>());
    }

    [Fact]
    public async Task Generation_moves_with_the_spec_only_and_a_no_op_update_writes_nothing()
    {
        var created = await CreateAsync(Endpoint("ep-1"));
        var labelled = created.DeepClone().AsObject();
        labelled["metadata"]!["labels"] = new JsonObject { ["team"] = "a" };
        var afterLabel = await ReplaceAsync(labelled);
        Assert.Equal(1, Generation(afterLabel));
        Assert.NotEqual(Rv(created), Rv(afterLabel));

        var noOp = await ReplaceAsync(afterLabel.DeepClone().AsObject());
        Assert.Equal(Rv(afterLabel), Rv(noOp));

        var changed = afterLabel.DeepClone().AsObject();
        changed["spec"]!["url"] = "https://example.com/other";
        Assert.Equal(2, Generation(await ReplaceAsync(changed)));
    }

    [Fact]
    public async Task The_status_subresource_writes_only_status_and_the_object_writes_never_touch_it()
    {
        var created = await CreateAsync(Endpoint("ep-1"));
        var statusWrite = created.DeepClone().AsObject();
        statusWrite["status"] = new JsonObject { ["heraldId"] = "ep_123" };
        statusWrite["spec"]!["url"] = "https://example.com/ignored";
        statusWrite["metadata"]!["labels"] = new JsonObject { ["ignored"] = "yes" };
        var afterStatus = await ReplaceStatusAsync(statusWrite);
        Assert.Equal("ep_123", afterStatus["status"]!["heraldId"]!.GetValue<string>());
        Assert.Equal("https://example.com/hook", afterStatus["spec"]!["url"]!.GetValue<string>());
        Assert.Null(afterStatus["metadata"]!["labels"]);
        Assert.Equal(1, Generation(afterStatus));

        var specWrite = afterStatus.DeepClone().AsObject();
        specWrite["spec"]!["url"] = "https://example.com/new";
        specWrite["status"] = new JsonObject { ["heraldId"] = "overwritten?" };
        var afterSpec = await ReplaceAsync(specWrite);
        Assert.Equal("ep_123", afterSpec["status"]!["heraldId"]!.GetValue<string>());
        Assert.Equal(2, Generation(afterSpec));

        var stale = await FailsAsync(() => ReplaceStatusAsync(afterStatus));
        Assert.Equal(HttpStatusCode.Conflict, stale.Response.StatusCode);
    }

    [Fact]
    public async Task Delete_without_finalizers_removes_the_object_at_once()
    {
        await CreateAsync(Endpoint("ep-1"));
        await DeleteAsync("ep-1");
        Assert.Equal(HttpStatusCode.NotFound, (await FailsAsync(() => GetAsync("ep-1"))).Response.StatusCode);
    }

    [Fact]
    public async Task Delete_with_finalizers_sets_the_deletion_timestamp_and_the_object_goes_with_its_last_finalizer()
    {
        await CreateAsync(Endpoint("ep-1", finalizers: ["herald.dev/cleanup", "other/one"]));
        await DeleteAsync("ep-1");
        var deleting = await GetAsync("ep-1");
        Assert.NotNull(deleting["metadata"]!["deletionTimestamp"]);
        Assert.Equal(2, Generation(deleting));

        var stamp = deleting["metadata"]!["deletionTimestamp"]!.GetValue<string>();
        await DeleteAsync("ep-1"); // a second DELETE changes nothing
        Assert.Equal(stamp, (await GetAsync("ep-1"))["metadata"]!["deletionTimestamp"]!.GetValue<string>());

        var adding = deleting.DeepClone().AsObject();
        adding["metadata"]!["finalizers"]!.AsArray().Add("new/one");
        Assert.Equal(HttpStatusCode.UnprocessableEntity, (await FailsAsync(() => ReplaceAsync(adding))).Response.StatusCode);

        var one = deleting.DeepClone().AsObject();
        one["metadata"]!["finalizers"] = new JsonArray("other/one");
        var stillThere = await ReplaceAsync(one);
        Assert.Equal(stamp, stillThere["metadata"]!["deletionTimestamp"]!.GetValue<string>());

        var none = stillThere.DeepClone().AsObject();
        none["metadata"]!["finalizers"] = new JsonArray();
        await ReplaceAsync(none);
        Assert.Equal(HttpStatusCode.NotFound, (await FailsAsync(() => GetAsync("ep-1"))).Response.StatusCode);
    }

    private async Task<List<(WatchEventType Type, JsonObject Object)>> WatchAsync(string? from, int count, bool bookmarks = false, List<Exception>? errors = null)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var events = new List<(WatchEventType, JsonObject)>();
        var stream = _client.CustomObjects.WatchListNamespacedCustomObjectAsync(
            Group, Version, Ns, Plural, allowWatchBookmarks: bookmarks, resourceVersion: from, onError: e => errors?.Add(e), cancellationToken: timeout.Token);
        try
        {
            await foreach (var (type, raw) in stream)
            {
                events.Add((type, JsonSerializer.SerializeToNode(raw)!.AsObject()));
                if (events.Count == count) break;
            }
        }
        catch (OperationCanceledException) when (count == 0) { }
        return events;
    }

    [Fact]
    public async Task A_watch_from_a_resource_version_streams_every_change_after_it_in_order()
    {
        var listed = await _client.CustomObjects.ListNamespacedCustomObjectAsync<JsonObject>(Group, Version, Ns, Plural);
        var from = listed["metadata"]!["resourceVersion"]!.GetValue<string>();
        var created = await CreateAsync(Endpoint("ep-1", finalizers: "herald.dev/cleanup"));
        var changed = created.DeepClone().AsObject();
        changed["spec"]!["url"] = "https://example.com/two";
        var modified = await ReplaceAsync(changed);
        await DeleteAsync("ep-1");
        var marked = await GetAsync("ep-1");
        marked["metadata"]!["finalizers"] = new JsonArray();
        await ReplaceAsync(marked);

        var events = await WatchAsync(from, 4);
        Assert.Equal([WatchEventType.Added, WatchEventType.Modified, WatchEventType.Modified, WatchEventType.Deleted], events.Select(e => e.Type));
        Assert.Equal(Rv(modified), Rv(events[1].Object));
        Assert.NotNull(events[2].Object["metadata"]!["deletionTimestamp"]);
        var versions = events.Select(e => long.Parse(Rv(e.Object))).ToList();
        Assert.Equal(versions.Order(), versions);

        // From the middle: only what came after.
        var later = await WatchAsync(Rv(modified), 2);
        Assert.Equal([WatchEventType.Modified, WatchEventType.Deleted], later.Select(e => e.Type));
    }

    [Fact]
    public async Task A_watch_without_a_version_starts_with_the_current_objects_as_ADDED_then_follows()
    {
        await CreateAsync(Endpoint("ep-1"));
        await CreateAsync(Endpoint("ep-2"));
        var watching = WatchAsync(null, 3);
        await Task.Delay(300);
        await CreateAsync(Endpoint("ep-3"));
        var events = await watching;
        Assert.Equal(["ep-1", "ep-2", "ep-3"], events.Select(e => Name(e.Object)));
        Assert.All(events, e => Assert.Equal(WatchEventType.Added, e.Type));
    }

    [Fact]
    public async Task A_watch_that_asks_for_bookmarks_gets_the_latest_version_while_nothing_changes()
    {
        await CreateAsync(Endpoint("ep-1"));
        // Another type moving the global version on: a bookmark carries it, so a resumed watch skips nothing.
        await _client.CoreV1.CreateNamespacedSecretAsync(new V1Secret { Metadata = new() { Name = "s" } }, Ns);
        var events = await WatchAsync(_server.Store.Revision.ToString(), 1, bookmarks: true);
        Assert.Equal(WatchEventType.Bookmark, events[0].Type);
        Assert.Equal(_server.Store.Revision.ToString(), Rv(events[0].Object));

        var without = WatchAsync(_server.Store.Revision.ToString(), 1, bookmarks: false);
        Assert.False(await Task.WhenAny(without, Task.Delay(1000)) == without, "no bookmark unless asked for");
    }

    [Fact]
    public async Task A_watch_from_a_version_older_than_the_history_kept_gets_a_410_Expired_status()
    {
        var first = await CreateAsync(Endpoint("ep-1"));
        await CreateAsync(Endpoint("ep-2"));
        _server.Store.Compact();
        var errors = new List<Exception>();
        var events = await WatchAsync(Rv(first), 1, errors: errors);
        Assert.Empty(events); // the stream ends after the error
        var expired = Assert.IsType<KubernetesException>(Assert.Single(errors));
        Assert.Equal(410, expired.Status.Code);
        Assert.Equal("Expired", expired.Status.Reason);

        // The history limit compacts too: 50 changes kept.
        var from = _server.Store.Revision;
        for (var i = 0; i < 51; i++) await CreateAsync(Endpoint($"bulk-{i}"));
        errors.Clear();
        await WatchAsync(from.ToString(), 1, errors: errors);
        Assert.Equal(410, Assert.IsType<KubernetesException>(Assert.Single(errors)).Status.Code);
    }

    [Fact]
    public async Task Leases_have_optimistic_concurrency_and_serve_the_clients_leader_election()
    {
        var lease = await _client.CoordinationV1.CreateNamespacedLeaseAsync(new V1Lease { Metadata = new() { Name = "l" }, Spec = new() { HolderIdentity = "a" } }, Ns);
        lease.Spec.HolderIdentity = "b";
        var updated = await _client.CoordinationV1.ReplaceNamespacedLeaseAsync(lease, "l", Ns);
        lease.Spec.HolderIdentity = "c";
        Assert.Equal(HttpStatusCode.Conflict, (await FailsAsync(() => _client.CoordinationV1.ReplaceNamespacedLeaseAsync(lease, "l", Ns))).Response.StatusCode);
        Assert.Equal("b", (await _client.CoordinationV1.ReadNamespacedLeaseAsync("l", Ns)).Spec.HolderIdentity);
        Assert.NotEqual(lease.Metadata.ResourceVersion, updated.Metadata.ResourceVersion);

        // Two candidates: one leads; when it stops renewing, the other takes over within the lease duration.
        LeaderElector Candidate(string id) => new(new LeaderElectionConfig(new LeaseLock(_client, Ns, "election", id))
        {
            LeaseDuration = TimeSpan.FromSeconds(2), RenewDeadline = TimeSpan.FromSeconds(1), RetryPeriod = TimeSpan.FromMilliseconds(200),
        });
        using var one = Candidate("one");
        using var two = Candidate("two");
        var oneLeads = new TaskCompletionSource();
        var twoLeads = new TaskCompletionSource();
        one.OnStartedLeading += () => oneLeads.TrySetResult();
        two.OnStartedLeading += () => twoLeads.TrySetResult();
        using var stopOne = new CancellationTokenSource();
        using var stopTwo = new CancellationTokenSource();
        var runOne = one.RunAndTryToHoldLeadershipForeverAsync(stopOne.Token);
        await oneLeads.Task.WaitAsync(TimeSpan.FromSeconds(5));
        var runTwo = two.RunAndTryToHoldLeadershipForeverAsync(stopTwo.Token);
        await Task.Delay(1500);
        Assert.False(twoLeads.Task.IsCompleted);
        stopOne.Cancel();
        await twoLeads.Task.WaitAsync(TimeSpan.FromSeconds(6));
        Assert.Equal("two", (await _client.CoordinationV1.ReadNamespacedLeaseAsync("election", Ns)).Spec.HolderIdentity);
        stopTwo.Cancel();
        await Task.WhenAll(runOne, runTwo).ContinueWith(_ => { });
    }

    [Fact]
    public async Task Events_and_secrets_are_created_and_read_with_stringData_folded_into_data_and_unknown_types_are_404()
    {
        await _client.CoreV1.CreateNamespacedEventAsync(new Corev1Event
        {
            Metadata = new() { Name = "ep-1.drift" }, InvolvedObject = new() { Kind = "WebhookEndpoint", Name = "ep-1", NamespaceProperty = Ns },
            Reason = "DriftCorrected", Message = "m", Type = "Normal",
        }, Ns);
        Assert.Equal("DriftCorrected", (await _client.CoreV1.ReadNamespacedEventAsync("ep-1.drift", Ns)).Reason);
        await _client.CoreV1.CreateNamespacedSecretAsync(new V1Secret { Metadata = new() { Name = "admin" }, StringData = new Dictionary<string, string> { ["key"] = "k" } }, Ns);
        var secret = await _client.CoreV1.ReadNamespacedSecretAsync("admin", Ns);
        Assert.Equal("k", System.Text.Encoding.UTF8.GetString(secret.Data["key"])); // stringData folded into data
        Assert.Null(secret.StringData);
        Assert.Equal(HttpStatusCode.NotFound, (await FailsAsync(() => _client.CoreV1.ReadNamespacedConfigMapAsync("x", Ns))).Response.StatusCode);
    }

    [Fact]
    public async Task With_RBAC_rules_a_request_outside_them_is_403_Forbidden_and_one_inside_is_served()
    {
        await using var server = await StandInApiServer.StartAsync(new(Rules:
        [
            new V1PolicyRule { ApiGroups = [Group], Resources = [Plural], Verbs = ["get", "list"] },
            new V1PolicyRule { ApiGroups = [Group], Resources = [Plural + "/status"], Verbs = ["update"] },
        ]));
        using var client = new Kubernetes(new KubernetesClientConfiguration { Host = server.Url });
        using var test = new Kubernetes(new KubernetesClientConfiguration { Host = server.Url }, new TestClientMarker());

        // The test's own client is not held to the rules.
        var created = await test.CustomObjects.CreateNamespacedCustomObjectAsync<JsonObject>(Endpoint("ep-rbac"), Group, Version, Ns, Plural);
        Assert.Equal("ep-rbac", Name(await client.CustomObjects.GetNamespacedCustomObjectAsync<JsonObject>(Group, Version, Ns, Plural, "ep-rbac")));
        await client.CustomObjects.ListNamespacedCustomObjectAsync<JsonObject>(Group, Version, Ns, Plural);
        created["status"] = new JsonObject { ["heraldId"] = "ep_1" };
        await client.CustomObjects.ReplaceNamespacedCustomObjectStatusAsync<JsonObject>(created, Group, Version, Ns, Plural, "ep-rbac");

        // The object itself is not the status subresource; nor is a watch a list, nor a Secret a custom resource.
        var refused = await FailsAsync(() => client.CustomObjects.ReplaceNamespacedCustomObjectAsync<JsonObject>(created, Group, Version, Ns, Plural, "ep-rbac"));
        Assert.Equal(HttpStatusCode.Forbidden, refused.Response.StatusCode);
        Assert.Equal("Forbidden", JsonNode.Parse(refused.Response.Content)!["reason"]!.GetValue<string>());
        Assert.Equal(HttpStatusCode.Forbidden, (await FailsAsync(() => client.CustomObjects.DeleteNamespacedCustomObjectAsync<JsonObject>(Group, Version, Ns, Plural, "ep-rbac"))).Response.StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await FailsAsync(() => client.CoreV1.ReadNamespacedSecretAsync("any", Ns))).Response.StatusCode);
        var watch = await FailsAsync(() => client.CustomObjects.ListNamespacedCustomObjectWithHttpMessagesAsync(Group, Version, Ns, Plural, watch: true));
        Assert.Equal(HttpStatusCode.Forbidden, watch.Response.StatusCode);

        Assert.Equal(
            ["delete herald.dev/webhookendpoints", "get /secrets", "get herald.dev/webhookendpoints", "list herald.dev/webhookendpoints",
             "update herald.dev/webhookendpoints", "update herald.dev/webhookendpoints/status", "watch herald.dev/webhookendpoints"],
            server.OperatorAccesses.Select(a => $"{a.Verb} {a.Group}/{a.Resource}").Order(StringComparer.Ordinal));
    }
}
