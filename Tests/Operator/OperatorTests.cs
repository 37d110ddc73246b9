using System.Net;
using System.Text.Json;
using Aspire.Hosting;
using Aspire.Hosting.Testing;
using Herald.Operator.Resources;
using Herald.Tests.Harness;
using Herald.Tests.Harness.Kubernetes;
using k8s;
using k8s.Models;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Herald.Tests.Operator;

/// <summary>
/// The operator in-process, against <see cref="KubernetesTestApi"/> (the stand-in here; real binaries with
/// KUBEBUILDER_ASSETS) and the test app's live Herald: resources in, Herald objects and status out.
/// </summary>
[Collection(HeraldAppCollection.Name)]
public sealed partial class OperatorTests(HeraldAppFixture fixture, Xunit.Abstractions.ITestOutputHelper output) : IAsyncLifetime
{
    private static readonly string[] CrdFiles = Directory.GetFiles(Path.Combine(AppContext.BaseDirectory, "Crds"), "*.yaml");
    private readonly string _ns = "t-" + Guid.NewGuid().ToString("N")[..10];
    private readonly List<OperatorHost> _hosts = [];
    private KubernetesTestApi _api = null!;
    private IKubernetes _k8s = null!;

    private Uri HeraldApi => fixture.App.GetEndpoint("api", "http");

    public async Task InitializeAsync()
    {
        _api = await KubernetesTestApi.StartAsync(CrdFiles);
        _k8s = _api.NewClient();
    }

    public async Task DisposeAsync()
    {
        foreach (var host in _hosts) await host.DisposeAsync();
        _k8s.Dispose();
        await _api.DisposeAsync();
    }

    private async Task<OperatorHost> StartOperatorAsync(IDictionary<string, string?>? settings = null, Uri? api = null, string? adminKey = null)
    {
        var host = await OperatorHost.StartAsync(_api.Configuration.Host, _ns, api ?? HeraldApi, adminKey ?? fixture.AdminKey, settings);
        _hosts.Add(host);
        return host;
    }

    private Task<T> ApplyAsync<T>(T resource, ResourceType type) where T : IHeraldResource =>
        _k8s.CustomObjects.CreateNamespacedCustomObjectAsync<T>(resource, ResourceGroup.Group, ResourceGroup.Version, _ns, type.Plural);

    private async Task<T?> GetAsync<T>(string name, ResourceType type) where T : class, IHeraldResource
    {
        try { return await _k8s.CustomObjects.GetNamespacedCustomObjectAsync<T>(ResourceGroup.Group, ResourceGroup.Version, _ns, type.Plural, name); }
        catch (k8s.Autorest.HttpOperationException e) when (e.Response.StatusCode == HttpStatusCode.NotFound) { return null; }
    }

    private Task DeleteAsync(string name, ResourceType type) =>
        _k8s.CustomObjects.DeleteNamespacedCustomObjectAsync(ResourceGroup.Group, ResourceGroup.Version, _ns, type.Plural, name);

    private static Condition? Ready(IHeraldResource? r) => r?.Status?.Conditions.FirstOrDefault(c => c.Type == "Ready");

    /// <summary>Waits until the resource reports <c>Ready</c> with <paramref name="status"/> for its current generation; returns it.</summary>
    private async Task<T> ReadyAsync<T>(string name, ResourceType type, string status = "True", string? reason = null, int seconds = 30) where T : class, IHeraldResource
    {
        T? last = null;
        var held = await Eventually.HoldsAsync(async () =>
        {
            last = await GetAsync<T>(name, type);
            return Ready(last) is { } ready && ready.Status == status && (reason is null || ready.Reason == reason) &&
                   ready.ObservedGeneration == last!.Metadata.Generation;
        }, TimeSpan.FromSeconds(seconds));
        Assert.True(held, $"{type.Kind} {name}: Ready={status} expected; status was {JsonSerializer.Serialize(last?.Status)}");
        return last!;
    }

    private static HeraldApplication Application(string name) => new()
    {
        Kind = HeraldApplication.Type.Kind, Metadata = new() { Name = name }, Spec = new() { Name = "op-" + name, RateLimit = 50 },
    };

    private WebhookEndpoint Endpoint(string name, string app, string path) => new()
    {
        Kind = WebhookEndpoint.Type.Kind, Metadata = new() { Name = name },
        Spec = new() { ApplicationRef = app, Url = fixture.Receiver.UrlFor(path).ToString(), EventTypes = ["invoice.paid"], Description = "from Git" },
    };

    private async Task<JsonElement?> HeraldEndpointAsync(string appId, string endpointId)
    {
        var (status, body, _) = await fixture.Admin.GetAsync($"/api/v1/apps/{appId}/endpoints/{endpointId}");
        return status == HttpStatusCode.OK ? body : null;
    }

    [Fact]
    public async Task Resources_are_created_updated_and_deleted_in_Herald_with_status_and_finalizers()
    {
        await StartOperatorAsync();
        await ApplyAsync(Application("acme"), HeraldApplication.Type);
        await ApplyAsync(new HeraldEventType
        {
            Kind = HeraldEventType.Type.Kind, Metadata = new() { Name = "invoice-paid" },
            Spec = new()
            {
                ApplicationRef = "acme", Name = "invoice.paid", Description = "An invoice was paid.",
                Schema = JsonDocument.Parse("""{"type":"object","required":["invoice"],"properties":{"invoice":{"type":"string"}}}""").RootElement,
            },
        }, HeraldEventType.Type);
        await ApplyAsync(Endpoint("billing", "acme", "op-billing"), WebhookEndpoint.Type);

        var app = await ReadyAsync<HeraldApplication>("acme", HeraldApplication.Type);
        var appId = app.Status!.HeraldId!;
        var (appStatus, appBody, _) = await fixture.Admin.GetAsync($"/api/v1/apps/{appId}");
        Assert.Equal(HttpStatusCode.OK, appStatus);
        Assert.Equal("op-acme", appBody.GetProperty("name").GetString());
        Assert.Equal(50, appBody.GetProperty("rateLimit").GetInt32());
        Assert.Contains(ResourceGroup.Finalizer, app.Metadata.Finalizers);

        var eventType = await ReadyAsync<HeraldEventType>("invoice-paid", HeraldEventType.Type);
        var (typeStatus, typeBody, _) = await fixture.Admin.GetAsync($"/api/v1/apps/{appId}/event-types/invoice.paid");
        Assert.Equal(HttpStatusCode.OK, typeStatus);
        Assert.Equal("An invoice was paid.", typeBody.GetProperty("description").GetString());
        Assert.Equal("invoice", typeBody.GetProperty("schema").GetProperty("required")[0].GetString());
        Assert.Equal("invoice.paid", eventType.Status!.HeraldId);

        var endpoint = await ReadyAsync<WebhookEndpoint>("billing", WebhookEndpoint.Type);
        var endpointId = endpoint.Status!.HeraldId!;
        var actual = await HeraldEndpointAsync(appId, endpointId);
        Assert.Equal(endpoint.Spec.Url, actual!.Value.GetProperty("url").GetString());
        Assert.Equal(["invoice.paid"], actual.Value.GetProperty("eventTypes").EnumerateArray().Select(e => e.GetString()));
        Assert.Equal("Reconciled", Ready(endpoint)!.Reason);
        Assert.Equal(1, endpoint.Status.ObservedGeneration);
        // The transcript: resources as the API server holds them after reconcile, and what Herald has.
        foreach (IHeraldResource r in new IHeraldResource[] { app, eventType, endpoint })
            output.WriteLine($"# GET {r.Kind} {r.Name()}\n" + JsonSerializer.Serialize(JsonDocument.Parse(KubernetesJson.Serialize(r)), new JsonSerializerOptions { WriteIndented = true }));
        output.WriteLine($"# GET /api/v1/apps/{appId}\n{appBody}");
        output.WriteLine($"# GET /api/v1/apps/{appId}/event-types/invoice.paid\n{typeBody}");
        output.WriteLine($"# GET /api/v1/apps/{appId}/endpoints/{endpointId}\n{actual}");

        // An update: the spec's new URL reaches Herald, observedGeneration follows.
        endpoint.Spec.Url = fixture.Receiver.UrlFor("op-billing-v2").ToString();
        endpoint.Spec.Disabled = true;
        await _k8s.CustomObjects.ReplaceNamespacedCustomObjectAsync(endpoint, ResourceGroup.Group, ResourceGroup.Version, _ns, WebhookEndpoint.Type.Plural, "billing");
        var updated = await ReadyAsync<WebhookEndpoint>("billing", WebhookEndpoint.Type);
        Assert.Equal(2, updated.Status!.ObservedGeneration);
        Assert.Equal(endpointId, updated.Status.HeraldId);
        actual = await HeraldEndpointAsync(appId, endpointId);
        Assert.EndsWith("op-billing-v2", actual!.Value.GetProperty("url").GetString());
        Assert.True(actual.Value.GetProperty("disabled").GetBoolean());

        // A delete: the finalizer removes the endpoint from Herald, then the resource goes.
        await DeleteAsync("billing", WebhookEndpoint.Type);
        Assert.True(await Eventually.HoldsAsync(async () => await GetAsync<WebhookEndpoint>("billing", WebhookEndpoint.Type) is null, TimeSpan.FromSeconds(20)));
        Assert.Null(await HeraldEndpointAsync(appId, endpointId));

        await DeleteAsync("acme", HeraldApplication.Type);
        Assert.True(await Eventually.HoldsAsync(async () => await GetAsync<HeraldApplication>("acme", HeraldApplication.Type) is null, TimeSpan.FromSeconds(20)));
        Assert.Equal(HttpStatusCode.NotFound, (await fixture.Admin.GetAsync($"/api/v1/apps/{appId}")).Status);
    }

    [Fact]
    public async Task An_endpoint_edited_through_Herald_goes_back_to_the_resource_at_resync_and_an_event_says_so()
    {
        await StartOperatorAsync(new Dictionary<string, string?> { ["Herald:Operator:ResyncPeriod"] = "00:00:01" });
        await ApplyAsync(Application("drift"), HeraldApplication.Type);
        await ApplyAsync(Endpoint("ep", "drift", "op-drift"), WebhookEndpoint.Type);
        var appId = (await ReadyAsync<HeraldApplication>("drift", HeraldApplication.Type)).Status!.HeraldId!;
        var endpoint = await ReadyAsync<WebhookEndpoint>("ep", WebhookEndpoint.Type);
        var endpointId = endpoint.Status!.HeraldId!;

        var (status, _, _) = await fixture.Admin.PutAsync($"/api/v1/apps/{appId}/endpoints/{endpointId}",
            new { url = fixture.Receiver.UrlFor("op-hijacked").ToString(), eventTypes = new[] { "other" } });
        Assert.Equal(HttpStatusCode.OK, status);

        Assert.True(await Eventually.HoldsAsync(async () =>
            (await HeraldEndpointAsync(appId, endpointId))?.GetProperty("url").GetString() == endpoint.Spec.Url, TimeSpan.FromSeconds(15)));
        var back = (await HeraldEndpointAsync(appId, endpointId))!.Value;
        Assert.Equal(["invoice.paid"], back.GetProperty("eventTypes").EnumerateArray().Select(e => e.GetString()));
        var events = await _k8s.CoreV1.ListNamespacedEventAsync(_ns);
        Assert.Contains(events.Items, e => e.Reason == "DriftCorrected" && e.InvolvedObject.Name == "ep");
    }

    [Fact]
    public async Task A_failing_Herald_API_is_reported_as_Ready_False_with_its_reason_and_retried_with_back_off()
    {
        // Nothing listens there: every call to Herald fails to connect.
        var closed = new Uri("http://127.0.0.1:" + FreePort());
        var attempts = new System.Collections.Concurrent.ConcurrentQueue<DateTime>();
        using var listener = new System.Diagnostics.Metrics.MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument is { Name: "herald.operator.reconciles", Meter.Name: Herald.Operator.Telemetry.OperatorMetrics.MeterName }) l.EnableMeasurementEvents(instrument);
        };
        listener.SetMeasurementEventCallback<long>((_, _, tags, _) =>
        {
            foreach (var tag in tags) if (tag is { Key: "kind", Value: "HeraldApplication" }) attempts.Enqueue(DateTime.UtcNow);
        });
        listener.Start();
        await using (var _ = await StartOperatorAsync(api: closed))
        {
            await ApplyAsync(Application("down"), HeraldApplication.Type);
            var app = await ReadyAsync<HeraldApplication>("down", HeraldApplication.Type, "False", "HeraldUnreachable");
            Assert.Null(app.Status!.HeraldId);
            // Back-off from 0.2 s doubling: attempts at about 0, 0.2, 0.6, 1.4, 3.0 s — the gaps grow.
            await Task.Delay(3500);
            var times = attempts.ToList();
            var gaps = times.Zip(times.Skip(1), (a, b) => (b - a).TotalSeconds).ToList();
            Assert.InRange(times.Count, 4, 7);
            Assert.True(gaps[^1] > 4 * gaps[0] && gaps[^1] >= 0.7, $"gaps between attempts: {string.Join(", ", gaps.Select(g => g.ToString("F2")))}");
        }
        _hosts.Clear();

        // A key Herald refuses: the API's answer is the reason.
        await using (var _ = await StartOperatorAsync(adminKey: "hk_admin_wrong"))
        {
            await ReadyAsync<HeraldApplication>("down", HeraldApplication.Type, "False", "HeraldApiError");
        }
        _hosts.Clear();

        // Herald back (the right key): the resource recovers without being touched.
        await StartOperatorAsync();
        var recovered = await ReadyAsync<HeraldApplication>("down", HeraldApplication.Type);
        Assert.NotNull(recovered.Status!.HeraldId);
    }

    [Fact]
    public async Task A_watch_resumed_from_an_expired_version_lists_again_and_misses_nothing()
    {
        var standIn = _api.StandIn ?? throw new InvalidOperationException("compaction needs the stand-in");
        await StartOperatorAsync(); // resync every 30 s: only the watch can find the next resource in time
        await ApplyAsync(Application("before"), HeraldApplication.Type);
        await ReadyAsync<HeraldApplication>("before", HeraldApplication.Type);

        // History compacted, then the watch cut: the operator's last version is now too old to resume from.
        standIn.Store.Compact();
        standIn.Store.CloseWatches();
        await ApplyAsync(Application("after"), HeraldApplication.Type);
        await ReadyAsync<HeraldApplication>("after", HeraldApplication.Type, seconds: 10);
        Assert.True(standIn.ExpiredWatches >= 1, "the operator resumed from its version and was told 410 Expired");
    }

    [Fact]
    public async Task The_signing_secret_is_written_to_the_named_Secret_or_read_from_it_and_a_changed_Secret_rotates_Herald()
    {
        await StartOperatorAsync(new Dictionary<string, string?> { ["Herald:Operator:ResyncPeriod"] = "00:00:01" });
        await ApplyAsync(Application("signed"), HeraldApplication.Type);
        var appId = (await ReadyAsync<HeraldApplication>("signed", HeraldApplication.Type)).Status!.HeraldId!;
        async Task<string> HeraldSecretAsync(string endpointId) =>
            (await fixture.Admin.GetAsync($"/api/v1/apps/{appId}/endpoints/{endpointId}/secret")).Body.GetProperty("key").GetString()!;
        async Task<string?> SecretAsync(string name, string key) =>
            (await _k8s.CoreV1.ReadNamespacedSecretAsync(name, _ns)).Data?.TryGetValue(key, out var v) == true ? System.Text.Encoding.UTF8.GetString(v) : null;

        // No Secret yet: Herald's generated secret is written to it.
        var written = Endpoint("written", "signed", "op-written");
        written.Spec.SigningSecret = new() { Name = "written-signing" };
        await ApplyAsync(written, WebhookEndpoint.Type);
        var writtenId = (await ReadyAsync<WebhookEndpoint>("written", WebhookEndpoint.Type)).Status!.HeraldId!;
        Assert.Equal(await HeraldSecretAsync(writtenId), await SecretAsync("written-signing", "signingSecret"));
        Assert.Equal("written", Assert.Single((await _k8s.CoreV1.ReadNamespacedSecretAsync("written-signing", _ns)).Metadata.OwnerReferences).Name);

        // A Secret given: Herald signs with it; a new value in the Secret becomes Herald's current secret.
        var given = "whsec_" + Convert.ToBase64String(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32));
        await _k8s.CoreV1.CreateNamespacedSecretAsync(new V1Secret { Metadata = new() { Name = "given-signing" }, StringData = new Dictionary<string, string> { ["whsec"] = given } }, _ns);
        var read = Endpoint("read", "signed", "op-read");
        read.Spec.SigningSecret = new() { Name = "given-signing", Key = "whsec" };
        await ApplyAsync(read, WebhookEndpoint.Type);
        var readId = (await ReadyAsync<WebhookEndpoint>("read", WebhookEndpoint.Type)).Status!.HeraldId!;
        Assert.Equal(given, await HeraldSecretAsync(readId));

        var rotated = "whsec_" + Convert.ToBase64String(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32));
        var secret = await _k8s.CoreV1.ReadNamespacedSecretAsync("given-signing", _ns);
        secret.Data["whsec"] = System.Text.Encoding.UTF8.GetBytes(rotated);
        await _k8s.CoreV1.ReplaceNamespacedSecretAsync(secret, "given-signing", _ns);
        Assert.True(await Eventually.HoldsAsync(async () => await HeraldSecretAsync(readId) == rotated, TimeSpan.FromSeconds(15)));
    }

    [Fact]
    public async Task Metrics_count_reconciles_by_result_time_them_and_show_queue_depth_and_leadership()
    {
        var measurements = new System.Collections.Concurrent.ConcurrentQueue<(string Instrument, double Value, Dictionary<string, object?> Tags)>();
        using var listener = new System.Diagnostics.Metrics.MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == Herald.Operator.Telemetry.OperatorMetrics.MeterName) l.EnableMeasurementEvents(instrument);
        };
        void Record(System.Diagnostics.Metrics.Instrument i, double v, ReadOnlySpan<KeyValuePair<string, object?>> tags) =>
            measurements.Enqueue((i.Name, v, tags.ToArray().ToDictionary(t => t.Key, t => t.Value)));
        listener.SetMeasurementEventCallback<long>((i, v, tags, _) => Record(i, v, tags));
        listener.SetMeasurementEventCallback<int>((i, v, tags, _) => Record(i, v, tags));
        listener.SetMeasurementEventCallback<double>((i, v, tags, _) => Record(i, v, tags));
        listener.Start();

        var host = await StartOperatorAsync();
        await ApplyAsync(Endpoint("orphan", "no-such-app", "op-orphan"), WebhookEndpoint.Type);
        await ApplyAsync(Application("measured"), HeraldApplication.Type);
        await ReadyAsync<HeraldApplication>("measured", HeraldApplication.Type);
        await ReadyAsync<WebhookEndpoint>("orphan", WebhookEndpoint.Type, "False", "ApplicationNotFound");
        Assert.True(host.IsLeader);
        listener.RecordObservableInstruments();

        var all = measurements.ToList();
        Assert.Contains(all, m => m.Instrument == "herald.operator.reconciles" && (string?)m.Tags["kind"] == "HeraldApplication" && (string?)m.Tags["result"] == "success");
        Assert.Contains(all, m => m.Instrument == "herald.operator.reconciles" && (string?)m.Tags["kind"] == "WebhookEndpoint" && (string?)m.Tags["result"] == "error");
        Assert.Contains(all, m => m.Instrument == "herald.operator.reconcile.duration" && m.Value > 0);
        Assert.Contains(all, m => m.Instrument == "herald.operator.leader" && m.Value == 1);
        Assert.Equal(["HeraldApplication", "HeraldEventType", "WebhookEndpoint"],
            all.Where(m => m.Instrument == "herald.operator.queue.depth").Select(m => (string)m.Tags["kind"]!).Distinct().Order());
    }

    [Fact]
    public async Task An_endpoint_Herald_disabled_itself_stays_disabled_until_the_resource_changes()
    {
        await StartOperatorAsync(new Dictionary<string, string?> { ["Herald:Operator:ResyncPeriod"] = "00:00:01" });
        await ApplyAsync(Application("gone"), HeraldApplication.Type);
        var appId = (await ReadyAsync<HeraldApplication>("gone", HeraldApplication.Type)).Status!.HeraldId!;
        var endpoint = Endpoint("gone-ep", "gone", "op-gone");
        fixture.Receiver.ReplyAt(new Uri(endpoint.Spec.Url), new Reply(410));
        await ApplyAsync(endpoint, WebhookEndpoint.Type);
        var endpointId = (await ReadyAsync<WebhookEndpoint>("gone-ep", WebhookEndpoint.Type)).Status!.HeraldId!;

        // The receiver answers 410 Gone: Herald disables the endpoint with its reason.
        await fixture.Admin.SendMessageAsync(appId, "invoice.paid", new { invoice = "in_1" });
        Assert.True(await Eventually.HoldsAsync(async () => (await HeraldEndpointAsync(appId, endpointId))?.GetProperty("disabled").GetBoolean() == true,
            TimeSpan.FromSeconds(30)));
        var disabled = await ReadyAsync<WebhookEndpoint>("gone-ep", WebhookEndpoint.Type, "False", "DisabledByHerald");
        Assert.Contains("410", Ready(disabled)!.Message);
        await Task.Delay(2500); // two resyncs: still disabled
        Assert.True((await HeraldEndpointAsync(appId, endpointId))!.Value.GetProperty("disabled").GetBoolean());

        // A spec change (a new generation) is the team's decision: enabled again.
        fixture.Receiver.ReplyAt(new Uri(endpoint.Spec.Url), Reply.Ok);
        disabled.Spec.Description = "receiver fixed";
        await _k8s.CustomObjects.ReplaceNamespacedCustomObjectAsync(disabled, ResourceGroup.Group, ResourceGroup.Version, _ns, WebhookEndpoint.Type.Plural, "gone-ep");
        await ReadyAsync<WebhookEndpoint>("gone-ep", WebhookEndpoint.Type);
        Assert.False((await HeraldEndpointAsync(appId, endpointId))!.Value.GetProperty("disabled").GetBoolean());
    }

    [Fact]
    public async Task An_endpoint_waits_for_its_application_with_a_reason_and_goes_as_soon_as_the_application_is_ready()
    {
        // A back-off far longer than the test: only the application's readiness can bring the endpoint back in time.
        await StartOperatorAsync(new Dictionary<string, string?> { ["Herald:Operator:BaseBackoff"] = "00:01:00" });
        await ApplyAsync(Endpoint("early", "later-app", "op-early"), WebhookEndpoint.Type);
        await ReadyAsync<WebhookEndpoint>("early", WebhookEndpoint.Type, "False", "ApplicationNotFound");
        await ApplyAsync(Application("later-app"), HeraldApplication.Type);
        await ReadyAsync<WebhookEndpoint>("early", WebhookEndpoint.Type, seconds: 10);
    }

    [Fact]
    public async Task One_pass_through_everything_the_operator_does_uses_every_grant_of_its_Role_and_nothing_else()
    {
        // Every test here holds the operator to the Role the AppHost deploys it with (KubernetesTestApi): a request
        // outside it is 403 and the test fails. This one also shows that no grant is spare. Real binaries run the
        // operator as an administrator, so there it shows nothing.
        if (_api.StandIn is not { } standIn) return;
        await StartOperatorAsync(new Dictionary<string, string?> { ["Herald:Operator:ResyncPeriod"] = "00:00:01" });
        await _k8s.CoreV1.CreateNamespacedSecretAsync(new V1Secret { Metadata = new() { Name = "shared" }, StringData = new Dictionary<string, string> { ["other"] = "kept" } }, _ns);
        await ApplyAsync(Application("rbac"), HeraldApplication.Type);
        await ApplyAsync(new HeraldEventType
        {
            Kind = HeraldEventType.Type.Kind, Metadata = new() { Name = "rbac-type" }, Spec = new() { ApplicationRef = "rbac", Name = "invoice.paid" },
        }, HeraldEventType.Type);
        // Its signing secret is added to a Secret that exists (update), and written to one that does not (create).
        var updated = Endpoint("rbac-updated", "rbac", "op-rbac-1");
        updated.Spec.SigningSecret = new() { Name = "shared" };
        var created = Endpoint("rbac-created", "rbac", "op-rbac-2");
        created.Spec.SigningSecret = new() { Name = "rbac-created-signing" };
        await ApplyAsync(updated, WebhookEndpoint.Type);
        await ApplyAsync(created, WebhookEndpoint.Type);
        var appId = (await ReadyAsync<HeraldApplication>("rbac", HeraldApplication.Type)).Status!.HeraldId!;
        await ReadyAsync<HeraldEventType>("rbac-type", HeraldEventType.Type);
        var endpointId = (await ReadyAsync<WebhookEndpoint>("rbac-updated", WebhookEndpoint.Type)).Status!.HeraldId!;
        await ReadyAsync<WebhookEndpoint>("rbac-created", WebhookEndpoint.Type);
        Assert.Equal("kept", System.Text.Encoding.UTF8.GetString((await _k8s.CoreV1.ReadNamespacedSecretAsync("shared", _ns)).Data["other"]));
        // Drift, corrected and recorded as an Event.
        await fixture.Admin.PutAsync($"/api/v1/apps/{appId}/endpoints/{endpointId}", new { url = fixture.Receiver.UrlFor("op-rbac-hijacked").ToString() });
        Assert.True(await Eventually.HoldsAsync(async () =>
            (await _k8s.CoreV1.ListNamespacedEventAsync(_ns)).Items.Any(e => e.Reason == "DriftCorrected"), TimeSpan.FromSeconds(15)));

        var granted = Herald.AppHost.OperatorAccess.Rules
            .SelectMany(rule => rule.ApiGroups.SelectMany(g => rule.Resources.SelectMany(r => rule.Verbs.Select(v => new StandInAccess(v, g, r)))));
        Assert.Equal(granted.Order(AccessOrder), standIn.OperatorAccesses.Order(AccessOrder));
    }

    private static readonly Comparer<StandInAccess> AccessOrder = Comparer<StandInAccess>.Create((a, b) =>
        string.CompareOrdinal($"{a.Group}/{a.Resource} {a.Verb}", $"{b.Group}/{b.Resource} {b.Verb}"));

    [Fact]
    public async Task Two_replicas_one_active_and_the_standby_takes_over_within_the_lease_duration()
    {
        var first = await StartOperatorAsync();
        var second = await StartOperatorAsync();
        Assert.True(await Eventually.HoldsAsync(() => Task.FromResult(first.IsLeader ^ second.IsLeader), TimeSpan.FromSeconds(10)));
        await Task.Delay(1000);
        Assert.True(first.IsLeader ^ second.IsLeader, "exactly one leads");
        var (leader, standby) = first.IsLeader ? (first, second) : (second, first);
        var lease = await _k8s.CoordinationV1.ReadNamespacedLeaseAsync("herald-operator", _ns);
        Assert.Equal(leader.Identity, lease.Spec.HolderIdentity);

        await ApplyAsync(Application("ha-1"), HeraldApplication.Type);
        await ReadyAsync<HeraldApplication>("ha-1", HeraldApplication.Type);

        // The leader stops (a rolling update): it hands the Lease back, and the standby leads at its next retry (0.3 s),
        // well within the lease duration (3 s).
        _hosts.Remove(leader);
        await leader.DisposeAsync();
        var stopped = DateTime.UtcNow;
        Assert.True(await Eventually.HoldsAsync(() => Task.FromResult(standby.IsLeader), TimeSpan.FromSeconds(10)));
        Assert.True(DateTime.UtcNow - stopped < TimeSpan.FromSeconds(3), $"took over after {DateTime.UtcNow - stopped}");
        await ApplyAsync(Application("ha-2"), HeraldApplication.Type);
        await ReadyAsync<HeraldApplication>("ha-2", HeraldApplication.Type);
    }

    [Fact]
    public async Task A_leader_that_can_no_longer_renew_steps_down_and_the_standby_takes_over_within_the_lease_duration()
    {
        var standIn = _api.StandIn ?? throw new InvalidOperationException("fault injection needs the stand-in");
        var first = await StartOperatorAsync();
        var second = await StartOperatorAsync();
        Assert.True(await Eventually.HoldsAsync(() => Task.FromResult(first.IsLeader ^ second.IsLeader), TimeSpan.FromSeconds(10)));
        var (leader, standby) = first.IsLeader ? (first, second) : (second, first);

        // As good as dead to the cluster (hung, partitioned): every Lease write in its name fails from now on.
        var frozen = DateTime.UtcNow;
        standIn.Fault = r => r.Method == "PUT" && r.Path.Contains("/leases/") &&
                             r.Body?["spec"]?["holderIdentity"]?.GetValue<string>() == leader.Identity ? 500 : null;
        Assert.True(await Eventually.HoldsAsync(() => Task.FromResult(standby.IsLeader && !leader.IsLeader), TimeSpan.FromSeconds(10)));
        // Lease duration 3 s from its last renewal, plus the standby's retry (0.3 s) and the polling here (0.5 s).
        Assert.True(DateTime.UtcNow - frozen < TimeSpan.FromSeconds(4.5), $"took over after {DateTime.UtcNow - frozen}");
        Assert.Equal(standby.Identity, (await _k8s.CoordinationV1.ReadNamespacedLeaseAsync("herald-operator", _ns)).Spec.HolderIdentity);
        await ApplyAsync(Application("after-failover"), HeraldApplication.Type);
        await ReadyAsync<HeraldApplication>("after-failover", HeraldApplication.Type);
        Assert.False(leader.IsLeader);
    }

    [Fact]
    public async Task An_unreachable_API_server_does_not_stop_the_operator_and_makes_it_unready()
    {
        var port = FreePort();
        var host = await OperatorHost.StartAsync($"http://127.0.0.1:{port}", _ns, HeraldApi, fixture.AdminKey);
        _hosts.Add(host);
        await Task.Delay(2000); // several failed attempts to read the Lease
        Assert.False(host.Stopping);
        Assert.False(host.IsLeader);
        var report = await host.ReadinessAsync();
        Assert.Equal(HealthStatus.Unhealthy, report.Entries[Herald.Operator.OperatorExtensions.KubernetesDependency].Status);
    }

    [Fact]
    public async Task Readiness_follows_the_API_server_and_a_standby_is_ready_too()
    {
        if (_api.StandIn is not { } standIn) return; // the fault needs the stand-in
        var first = await StartOperatorAsync();
        var second = await StartOperatorAsync();
        async Task<bool> AllAsync(HealthStatus status) =>
            (await first.ReadinessAsync()).Status == status && (await second.ReadinessAsync()).Status == status;

        Assert.True(await Eventually.HoldsAsync(() => AllAsync(HealthStatus.Healthy), TimeSpan.FromSeconds(10)), "Both replicas, leader and standby, are ready.");
        Assert.True(first.IsLeader ^ second.IsLeader);
        standIn.Fault = _ => 503;
        Assert.True(await Eventually.HoldsAsync(() => AllAsync(HealthStatus.Unhealthy), TimeSpan.FromSeconds(10)), "Without the API server, neither is ready.");
        standIn.Fault = null;
        Assert.True(await Eventually.HoldsAsync(() => AllAsync(HealthStatus.Healthy), TimeSpan.FromSeconds(10)), "Ready again once it answers.");
    }

    [Fact]
    public async Task A_restart_between_creating_in_Herald_and_writing_status_creates_nothing_twice()
    {
        // Every status write fails: the operator creates the application in Herald, then cannot record it.
        var standIn = _api.StandIn ?? throw new InvalidOperationException("fault injection needs the stand-in");
        var statusWrites = 0;
        standIn.Fault = request =>
        {
            if (request.Method != "PUT" || !request.Path.EndsWith("/status")) return null;
            Interlocked.Increment(ref statusWrites);
            return 500;
        };
        var first = await StartOperatorAsync();
        await ApplyAsync(Application("restart"), HeraldApplication.Type);
        Assert.True(await Eventually.HoldsAsync(() => Task.FromResult(Volatile.Read(ref statusWrites) >= 2), TimeSpan.FromSeconds(20)));
        _hosts.Remove(first);
        await first.DisposeAsync();

        // A new replica, status writes working again: it repeats the create with the same idempotency key.
        standIn.Fault = null;
        await StartOperatorAsync();
        var app = await ReadyAsync<HeraldApplication>("restart", HeraldApplication.Type);
        // Every application, page by page: the shared test app holds hundreds.
        var named = new List<JsonElement>();
        for (string? iterator = null; ;)
        {
            var (_, page, _) = await fixture.Admin.GetAsync($"/api/v1/apps?limit=250{(iterator is null ? "" : "&iterator=" + Uri.EscapeDataString(iterator))}");
            named.AddRange(page.GetProperty("data").EnumerateArray().Where(a => a.GetProperty("name").GetString() == "op-restart"));
            if (page.GetProperty("done").GetBoolean()) break;
            iterator = page.GetProperty("iterator").GetString();
        }
        Assert.Equal(app.Status!.HeraldId, Assert.Single(named).GetProperty("id").GetString());
    }

    private static int FreePort()
    {
        using var listener = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
