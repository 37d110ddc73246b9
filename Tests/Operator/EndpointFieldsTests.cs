using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Herald.Operator.Resources;
using Herald.Tests.Harness;
using k8s;
using k8s.Models;

namespace Herald.Tests.Operator;

/// <summary>A WebhookEndpoint's headers (plain and from Secrets), content filter and retry policy, into Herald and kept there.</summary>
public sealed partial class OperatorTests
{
    private Task CreateSecretAsync(string name, Dictionary<string, string> data) =>
        _k8s.CoreV1.CreateNamespacedSecretAsync(new V1Secret { Metadata = new() { Name = name }, StringData = data }, _ns);

    private async Task SetSecretKeyAsync(string name, string key, string value)
    {
        var secret = await _k8s.CoreV1.ReadNamespacedSecretAsync(name, _ns);
        secret.Data[key] = Encoding.UTF8.GetBytes(value);
        await _k8s.CoreV1.ReplaceNamespacedSecretAsync(secret, name, _ns);
    }

    private static Dictionary<string, string?> Headers(JsonElement endpoint) =>
        endpoint.GetProperty("headers").EnumerateObject().ToDictionary(h => h.Name, h => h.Value.GetString());

    private async Task<List<JsonElement>> HeraldEndpointsAtAsync(string appId, string url)
    {
        var (_, page, _) = await fixture.Admin.GetAsync($"/api/v1/apps/{appId}/endpoints?limit=250");
        return [.. page.GetProperty("data").EnumerateArray().Where(e => e.GetProperty("url").GetString() == url)];
    }

    [Fact]
    public async Task Headers_from_a_Secret_a_filter_and_a_retry_policy_reach_Herald_follow_the_Secret_and_are_put_back_after_an_edit_in_Herald()
    {
        await StartOperatorAsync(new Dictionary<string, string?> { ["Herald:Operator:ResyncPeriod"] = "00:00:01" });
        await ApplyAsync(Application("fields"), HeraldApplication.Type);
        var appId = (await ReadyAsync<HeraldApplication>("fields", HeraldApplication.Type)).Status!.HeraldId!;
        await CreateSecretAsync("receiver-auth", new() { ["authorization"] = "Bearer one", ["x-tenant"] = "from-secret" });
        var endpoint = Endpoint("fields-ep", "fields", "op-fields");
        endpoint.Spec.HeadersFrom = [new() { SecretRef = new() { Name = "receiver-auth" } }];
        endpoint.Spec.Headers = new() { ["X-Tenant"] = "acme", ["x-source"] = "operator" };
        endpoint.Spec.Filter = JsonDocument.Parse("""{"data": {"amount": {"$gte": 100}, "currency": {"$in": ["usd", "eur"]}}}""").RootElement;
        // 60s: Herald stores it as 1m, which must not read as drift.
        endpoint.Spec.RetryPolicy = new() { Delays = ["5s", "60s"], MaxAttempts = 3, Timeout = "10s" };
        await ApplyAsync(endpoint, WebhookEndpoint.Type);

        var endpointId = (await ReadyAsync<WebhookEndpoint>("fields-ep", WebhookEndpoint.Type)).Status!.HeraldId!;
        var actual = (await HeraldEndpointAsync(appId, endpointId))!.Value;
        // The plain header wins the name the Secret also has, in its own spelling.
        Assert.Equal(new Dictionary<string, string?> { ["authorization"] = "Bearer one", ["X-Tenant"] = "acme", ["x-source"] = "operator" }, Headers(actual));
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse(endpoint.Spec.Filter.Value.GetRawText()), JsonNode.Parse(actual.GetProperty("filter").GetRawText())));
        var policy = actual.GetProperty("retryPolicy");
        Assert.Equal(["5s", "1m"], policy.GetProperty("delays").EnumerateArray().Select(d => d.GetString()));
        Assert.Equal(3, policy.GetProperty("maxAttempts").GetInt32());
        Assert.Equal("10s", policy.GetProperty("timeout").GetString());
        var updatedAt = actual.GetProperty("updatedAt").GetString();

        // Resyncs with nothing changed: Herald is left alone (no drift seen in its rewritten durations or the headers).
        await Task.Delay(2500);
        Assert.Equal(updatedAt, (await HeraldEndpointAsync(appId, endpointId))!.Value.GetProperty("updatedAt").GetString());
        Assert.DoesNotContain((await _k8s.CoreV1.ListNamespacedEventAsync(_ns)).Items, e => e.Reason == "DriftCorrected");

        // The Secret changes: Herald's header follows at the next resync.
        await SetSecretKeyAsync("receiver-auth", "authorization", "Bearer two");
        Assert.True(await Eventually.HoldsAsync(async () =>
            Headers((await HeraldEndpointAsync(appId, endpointId))!.Value).GetValueOrDefault("authorization") == "Bearer two", TimeSpan.FromSeconds(15)));

        // Edited in Herald behind the operator's back: headers, filter and policy are put back.
        var (status, _, _) = await fixture.Admin.PutAsync($"/api/v1/apps/{appId}/endpoints/{endpointId}", new
        {
            url = endpoint.Spec.Url, description = "from Git", eventTypes = new[] { "invoice.paid" },
            headers = new Dictionary<string, string> { ["authorization"] = "Bearer stolen" },
            filter = new { type = "other" },
            retryPolicy = new { maxAttempts = 1 },
        });
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.True(await Eventually.HoldsAsync(async () =>
        {
            var back = (await HeraldEndpointAsync(appId, endpointId))!.Value;
            return Headers(back).GetValueOrDefault("authorization") == "Bearer two" && Headers(back).Count == 3 &&
                   back.GetProperty("filter").TryGetProperty("data", out _) &&
                   back.GetProperty("retryPolicy").GetProperty("maxAttempts").GetInt32() == 3 &&
                   back.GetProperty("retryPolicy").GetProperty("delays").GetArrayLength() == 2;
        }, TimeSpan.FromSeconds(15)));
        Assert.Contains((await _k8s.CoreV1.ListNamespacedEventAsync(_ns)).Items, e => e.Reason == "DriftCorrected" && e.InvolvedObject.Name == "fields-ep");
    }

    [Fact]
    public async Task A_filter_Herald_refuses_or_a_missing_header_Secret_is_Ready_False_with_its_reason_until_fixed()
    {
        await StartOperatorAsync(new Dictionary<string, string?> { ["Herald:Operator:MaxBackoff"] = "00:00:01" });
        await ApplyAsync(Application("refused"), HeraldApplication.Type);
        var appId = (await ReadyAsync<HeraldApplication>("refused", HeraldApplication.Type)).Status!.HeraldId!;

        var badFilter = Endpoint("bad-filter", "refused", "op-bad-filter");
        badFilter.Spec.Filter = JsonDocument.Parse("""{"$bogus": 1}""").RootElement;
        await ApplyAsync(badFilter, WebhookEndpoint.Type);
        var refused = await ReadyAsync<WebhookEndpoint>("bad-filter", WebhookEndpoint.Type, "False", "HeraldRejected");
        Assert.Contains("400", Ready(refused)!.Message);
        // Herald's own validation message, not just its status.
        Assert.Contains("filter: ", Ready(refused)!.Message, StringComparison.Ordinal);
        Assert.Null(refused.Status!.HeraldId);
        Assert.Empty(await HeraldEndpointsAtAsync(appId, badFilter.Spec.Url));

        refused.Spec.Filter = JsonDocument.Parse("""{"type": "invoice.paid"}""").RootElement;
        await _k8s.CustomObjects.ReplaceNamespacedCustomObjectAsync(refused, ResourceGroup.Group, ResourceGroup.Version, _ns, WebhookEndpoint.Type.Plural, "bad-filter");
        var fixedId = (await ReadyAsync<WebhookEndpoint>("bad-filter", WebhookEndpoint.Type)).Status!.HeraldId!;
        Assert.Equal("invoice.paid", (await HeraldEndpointAsync(appId, fixedId))!.Value.GetProperty("filter").GetProperty("type").GetString());

        var noSecret = Endpoint("no-secret", "refused", "op-no-secret");
        noSecret.Spec.HeadersFrom = [new() { SecretRef = new() { Name = "not-yet" } }];
        await ApplyAsync(noSecret, WebhookEndpoint.Type);
        var waiting = await ReadyAsync<WebhookEndpoint>("no-secret", WebhookEndpoint.Type, "False", "SecretNotFound");
        Assert.Contains("not-yet", Ready(waiting)!.Message);
        await CreateSecretAsync("not-yet", new() { ["x-api-key"] = "k1" });
        var ready = await ReadyAsync<WebhookEndpoint>("no-secret", WebhookEndpoint.Type);
        Assert.Equal("k1", Headers((await HeraldEndpointAsync(appId, ready.Status!.HeraldId!))!.Value)["x-api-key"]);
    }

    [Fact]
    public async Task A_create_whose_id_was_never_recorded_takes_over_the_endpoint_Herald_names_even_after_its_header_Secret_changed()
    {
        // Endpoint status writes fail: the operator creates in Herald, then cannot record the id, and creates again
        // with the same key. With header values Herald does not replay that create (409); with a changed header Secret
        // the body differs too (422). Both name the endpoint the first create made.
        var standIn = _api.StandIn ?? throw new InvalidOperationException("fault injection needs the stand-in");
        await StartOperatorAsync(new Dictionary<string, string?> { ["Herald:Operator:MaxBackoff"] = "00:00:01" });
        await ApplyAsync(Application("takeover"), HeraldApplication.Type);
        var appId = (await ReadyAsync<HeraldApplication>("takeover", HeraldApplication.Type)).Status!.HeraldId!;
        standIn.Fault = r => r.Method == "PUT" && r.Path.Contains("/webhookendpoints/") && r.Path.EndsWith("/status") ? 500 : null;

        await CreateSecretAsync("same-headers", new() { ["authorization"] = "Bearer same" });
        await CreateSecretAsync("changed-headers", new() { ["authorization"] = "Bearer before" });
        var same = Endpoint("same", "takeover", "op-takeover-same");
        same.Spec.HeadersFrom = [new() { SecretRef = new() { Name = "same-headers" } }];
        var changed = Endpoint("changed", "takeover", "op-takeover-changed");
        changed.Spec.HeadersFrom = [new() { SecretRef = new() { Name = "changed-headers" } }];
        await ApplyAsync(same, WebhookEndpoint.Type);
        await ApplyAsync(changed, WebhookEndpoint.Type);
        Assert.True(await Eventually.HoldsAsync(async () =>
            (await HeraldEndpointsAtAsync(appId, same.Spec.Url)).Count == 1 && (await HeraldEndpointsAtAsync(appId, changed.Spec.Url)).Count == 1,
            TimeSpan.FromSeconds(20)));
        await Task.Delay(1500); // a retry of each create or two while the status still cannot be written
        await SetSecretKeyAsync("changed-headers", "authorization", "Bearer after");
        await Task.Delay(1500);

        standIn.Fault = null;
        var sameId = (await ReadyAsync<WebhookEndpoint>("same", WebhookEndpoint.Type)).Status!.HeraldId;
        var changedId = (await ReadyAsync<WebhookEndpoint>("changed", WebhookEndpoint.Type)).Status!.HeraldId;
        Assert.Equal(sameId, Assert.Single(await HeraldEndpointsAtAsync(appId, same.Spec.Url)).GetProperty("id").GetString());
        var taken = Assert.Single(await HeraldEndpointsAtAsync(appId, changed.Spec.Url));
        Assert.Equal(changedId, taken.GetProperty("id").GetString());
        Assert.Equal("Bearer after", Headers(taken)["authorization"]);
    }
}
