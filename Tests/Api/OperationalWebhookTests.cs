using System.Net;
using System.Text.Json;
using Grpc.Core;
using Herald.Grpc.V1;
using Herald.Operations;
using Herald.Tests.Delivery;
using Herald.Tests.Harness;
using StandardWebhooks;

namespace Herald.Tests.Api;

/// <summary>
/// Operational webhooks: each test registers an operational endpoint at the receiver (and deletes it afterwards, since
/// operational endpoints are install-wide), causes an event and waits for it to arrive, signed with that endpoint's
/// secret, through Herald's own delivery. Events are told apart by the test's own endpoint ids, so leftovers of other
/// tests cannot match.
/// </summary>
[Collection(HeraldAppCollection.Name)]
public sealed class OperationalWebhookTests(HeraldAppFixture herald) : IAsyncLifetime
{
    private const string Route = "/api/v1/operational-webhooks";

    // Events the Processor writes reach Kafka through the outbox relay (RelayGrace is 2 s in the test app).
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(45);

    private Uri _url = null!;
    private string _endpointId = null!;
    private string _secret = null!;

    public async Task InitializeAsync()
    {
        _url = herald.Receiver.UrlFor("operations-" + Guid.NewGuid().ToString("N"));
        var created = await herald.Admin.PostOkAsync($"{Route}/endpoints", new { url = _url, description = "ops" });
        _endpointId = created.GetProperty("id").GetString()!;
        var (status, secret, _) = await herald.Admin.GetAsync($"{Route}/endpoints/{_endpointId}/secret");
        Assert.Equal(HttpStatusCode.OK, status);
        _secret = secret.GetProperty("key").GetString()!;
    }

    public async Task DisposeAsync() => await herald.Admin.DeleteAsync($"{Route}/endpoints/{_endpointId}");

    [Fact]
    public async Task Endpoint_changes_through_the_api_arrive_as_signed_events_in_order()
    {
        var app = await herald.Admin.CreateApplicationAsync();
        var (endpoint, _) = await herald.Admin.CreateEndpointAsync(app, herald.Receiver.UrlFor(Guid.NewGuid().ToString("N")));
        var path = $"/api/v1/apps/{app}/endpoints/{endpoint}";
        var url = herald.Receiver.UrlFor(Guid.NewGuid().ToString("N"));
        Assert.Equal(HttpStatusCode.OK, (await herald.Admin.PutAsync(path, new { url, description = "renamed" })).Status);
        Assert.Equal(HttpStatusCode.OK, (await herald.Admin.PutAsync(path, new { url, disabled = true })).Status);
        Assert.Equal(HttpStatusCode.OK, (await herald.Admin.PutAsync(path, new { url, disabled = false })).Status);
        Assert.Equal(HttpStatusCode.NoContent, (await herald.Admin.DeleteAsync(path)).Status);

        var created = await WaitForEventAsync(OperationalEventTypes.EndpointCreated, endpoint);
        var deleted = await WaitForEventAsync(OperationalEventTypes.EndpointDeleted, endpoint);
        var disabled = await WaitForEventAsync(OperationalEventTypes.EndpointDisabled, endpoint);
        var enabled = await WaitForEventAsync(OperationalEventTypes.EndpointEnabled, endpoint);
        var updates = await WaitForEventsAsync(OperationalEventTypes.EndpointUpdated, endpoint, 3);

        foreach (var e in (JsonElement[])[created, deleted, disabled, enabled, .. updates])
        {
            Assert.Equal(app, e.GetProperty("data").GetProperty("appId").GetString());
            Assert.True(DateTimeOffset.TryParse(e.GetProperty("timestamp").GetString(), out _), e.ToString());
        }
        Assert.Equal("manual", disabled.GetProperty("data").GetProperty("trigger").GetString());
        Assert.Equal("Disabled through the API.", disabled.GetProperty("data").GetProperty("reason").GetString());
        Assert.True(Time(created) <= Time(disabled) && Time(disabled) <= Time(enabled) && Time(enabled) <= Time(deleted));

        // The events are the operations application's messages, listed by the admin API; the registration of the
        // operational endpoint itself was no event (nothing is emitted about the operations application).
        var (status, listed, _) = await herald.Admin.GetAsync($"{Route}/messages?eventType={OperationalEventTypes.EndpointCreated}&limit=250");
        Assert.Equal(HttpStatusCode.OK, status);
        var payloads = listed.GetProperty("data").EnumerateArray().Select(m => m.GetProperty("payload")).ToList();
        Assert.Contains(payloads, p => p.GetProperty("data").GetProperty("endpointId").GetString() == endpoint);
        Assert.DoesNotContain(payloads, p => p.GetProperty("data").GetProperty("appId").GetString() == OperationalEvents.ApplicationId);
        Assert.DoesNotContain(Events(), e => e.Root.GetProperty("data").GetProperty("endpointId").GetString() == _endpointId);
    }

    [Fact]
    public async Task An_endpoint_answering_410_is_reported_disabled_with_its_reason()
    {
        var app = await herald.Admin.CreateApplicationAsync();
        var url = herald.Receiver.UrlFor(Guid.NewGuid().ToString("N"));
        herald.Receiver.ReplyAt(url, new Reply(410));
        var (endpoint, _) = await herald.Admin.CreateEndpointAsync(app, url);

        await herald.Admin.SendMessageAsync(app, "invoice.paid", new { n = 1 });
        var disabled = await WaitForEventAsync(OperationalEventTypes.EndpointDisabled, endpoint);

        var data = disabled.GetProperty("data");
        Assert.Equal(app, data.GetProperty("appId").GetString());
        Assert.Equal("automatic", data.GetProperty("trigger").GetString());
        Assert.Contains("410", data.GetProperty("reason").GetString());
        var (_, current, _) = await herald.Admin.GetAsync($"/api/v1/apps/{app}/endpoints/{endpoint}");
        Assert.Equal(current.GetProperty("disabledReason").GetString(), data.GetProperty("reason").GetString());
    }

    [Fact]
    public async Task A_delivery_that_runs_out_of_retries_is_reported_exhausted_once()
    {
        var app = await herald.Admin.CreateApplicationAsync();
        var url = herald.Receiver.UrlFor(Guid.NewGuid().ToString("N"));
        herald.Receiver.ReplyAt(url, new Reply(500));
        var (endpoint, _) = await herald.Admin.CreateEndpointAsync(app, url);

        var messageId = await herald.Admin.SendMessageAsync(app, "invoice.paid", new { n = 1 });
        var exhausted = await WaitForEventAsync(OperationalEventTypes.AttemptExhausted, endpoint);

        var data = exhausted.GetProperty("data");
        Assert.Equal(app, data.GetProperty("appId").GetString());
        Assert.Equal(messageId, data.GetProperty("messageId").GetString());
        Assert.Equal("invoice.paid", data.GetProperty("eventType").GetString());
        Assert.Equal(500, data.GetProperty("lastAttempt").GetProperty("responseStatusCode").GetInt32());
        Assert.Equal("HTTP 500", data.GetProperty("lastAttempt").GetProperty("error").GetString());
        // The last of the schedule's four attempts, as the attempts list has it.
        var (_, attempts, _) = await herald.Admin.GetAsync($"/api/v1/apps/{app}/messages/{messageId}/attempts");
        Assert.Equal(HeraldAppFixture.RetrySchedule.Split(' ').Length, attempts.GetProperty("data").GetArrayLength());
        Assert.Equal(attempts.GetProperty("data")[0].GetProperty("id").GetString(), data.GetProperty("lastAttempt").GetProperty("id").GetString());
        Assert.Equal("failed", (await herald.ReadAsync(messageId, endpoint))?.Status);

        // One dead letter, one event.
        await Task.Delay(TimeSpan.FromSeconds(5));
        Assert.Single(Events(OperationalEventTypes.AttemptExhausted, endpoint));
    }

    [Fact]
    public async Task An_endpoint_that_starts_failing_is_reported_once_per_debounce_window()
    {
        var app = await herald.Admin.CreateApplicationAsync();
        var url = herald.Receiver.UrlFor(Guid.NewGuid().ToString("N"));
        var failing = false;
        herald.Receiver.ReplyAt(url, _ => Volatile.Read(ref failing) ? new Reply(500) : Reply.Ok);
        var (endpoint, _) = await herald.Admin.CreateEndpointAsync(app, url);

        // A success streak, then a failed attempt (its retry succeeds): one event, about that attempt.
        var first = await herald.Admin.SendMessageAsync(app, "invoice.paid", new { n = 1 });
        Assert.Equal("succeeded", (await herald.WaitForAsync(first, endpoint, r => r.Status == "succeeded", Patience))?.Status);
        var second = await FailOnceAsync(2);
        var report = await WaitForEventAsync(OperationalEventTypes.AttemptFailing, endpoint);
        var data = report.GetProperty("data");
        Assert.Equal(second, data.GetProperty("messageId").GetString());
        Assert.Equal(app, data.GetProperty("appId").GetString());
        Assert.Equal(500, data.GetProperty("lastAttempt").GetProperty("responseStatusCode").GetInt32());

        // Recovered, it fails again within the debounce window (1 h by default): no second event.
        await FailOnceAsync(3);
        await Task.Delay(TimeSpan.FromSeconds(6)); // past the relay's grace, which the first event needed
        Assert.Single(Events(OperationalEventTypes.AttemptFailing, endpoint));

        async Task<string> FailOnceAsync(int n)
        {
            Volatile.Write(ref failing, true);
            var message = await herald.Admin.SendMessageAsync(app, "invoice.paid", new { n });
            await herald.Receiver.WaitForAsync(message, Patience, url.AbsolutePath);
            Volatile.Write(ref failing, false);
            Assert.Equal("succeeded", (await herald.WaitForAsync(message, endpoint, r => r.Status == "succeeded", Patience))?.Status);
            Assert.Equal(2, (await herald.ReadAsync(message, endpoint))?.Attempts);
            return message;
        }
    }

    [Fact]
    public async Task The_same_event_produced_twice_is_one_message()
    {
        var at = DateTimeOffset.UtcNow;
        var endpoint = "ep_" + Guid.NewGuid().ToString("N");
        OperationalEvent Produce() => OperationalEvent.EndpointDisabled("app_elsewhere", endpoint, "The endpoint answered 410 Gone.", DisableTrigger.Automatic, at);

        await using var database = await herald.OpenDatabaseAsync();
        var first = await OperationalEvents.WriteAsync(database, null, [Produce()], CancellationToken.None);
        var second = await OperationalEvents.WriteAsync(database, null, [Produce()], CancellationToken.None);

        Assert.Single(first);
        Assert.Empty(second);
        await using var count = new Npgsql.NpgsqlCommand("SELECT count(*) FROM messages WHERE application_id = $1 AND event_id = $2", database);
        count.Parameters.Add(new() { Value = OperationalEvents.ApplicationId });
        count.Parameters.Add(new() { Value = Produce().EventId });
        Assert.Equal(1L, await count.ExecuteScalarAsync());
        var delivered = await WaitForEventAsync(OperationalEventTypes.EndpointDisabled, endpoint);
        Assert.Equal(first[0].MessageId, Events(OperationalEventTypes.EndpointDisabled, endpoint).Single().Webhook.MessageId);
        Assert.Equal("app_elsewhere", delivered.GetProperty("data").GetProperty("appId").GetString());
    }

    [Fact]
    public async Task Only_admin_keys_reach_operational_webhooks_and_the_operations_application_is_hidden()
    {
        var app = await herald.Admin.CreateApplicationAsync();
        using var tenant = herald.Client(await herald.Admin.CreateApplicationKeyAsync(app));

        // An application key may not see or touch them: 403, since the routes exist for every caller.
        Assert.Equal(HttpStatusCode.Forbidden, (await tenant.GetAsync($"{Route}/endpoints")).Status);
        Assert.Equal(HttpStatusCode.Forbidden, (await tenant.PostAsync($"{Route}/endpoints", new { url = _url })).Status);
        Assert.Equal(HttpStatusCode.Forbidden, (await tenant.GetAsync($"{Route}/endpoints/{_endpointId}/secret")).Status);
        Assert.Equal(HttpStatusCode.Forbidden, (await tenant.GetAsync($"{Route}/messages")).Status);
        var grpc = new OperationalWebhooks.OperationalWebhooksClient(herald.Grpc);
        var denied = await Assert.ThrowsAsync<RpcException>(async () =>
            await grpc.ListEndpointsAsync(new ListOperationalEndpointsRequest(), HeraldAppFixture.Bearer(await herald.Admin.CreateApplicationKeyAsync(app))));
        Assert.Equal(StatusCode.PermissionDenied, denied.StatusCode);

        // The admin key sees them over both surfaces.
        var (status, listed, _) = await herald.Admin.GetAsync($"{Route}/endpoints?limit=250");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Contains(listed.GetProperty("data").EnumerateArray(), e => e.GetProperty("id").GetString() == _endpointId);
        var page = await grpc.ListEndpointsAsync(new ListOperationalEndpointsRequest { Page = new() { Limit = 250 } }, HeraldAppFixture.Bearer(herald.AdminKey));
        Assert.Contains(page.Data, e => e.Id == _endpointId);
        Assert.Equal(_secret, (await grpc.GetEndpointSecretAsync(new OperationalEndpointRef { EndpointId = _endpointId }, HeraldAppFixture.Bearer(herald.AdminKey))).Key);

        // The reserved application is not an application of the applications API, even for an admin key: not listed,
        // not found, and no one can post it messages (forged events) or give it endpoints past the rules above.
        Assert.DoesNotContain(OperationalEvents.ApplicationId, await AllApplicationIdsAsync());
        var apps = $"/api/v1/apps/{OperationalEvents.ApplicationId}";
        Assert.Equal(HttpStatusCode.NotFound, (await herald.Admin.GetAsync(apps)).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await herald.Admin.DeleteAsync(apps)).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await herald.Admin.PostAsync($"{apps}/messages",
            new { eventType = OperationalEventTypes.EndpointDisabled, payload = new { forged = true } })).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await herald.Admin.GetAsync($"{apps}/endpoints")).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await herald.Admin.PostAsync($"{apps}/api-keys", new { name = "x" })).Status);

        // Operational endpoints follow the endpoint rules, and subscribe only to the types Herald emits.
        var (refused, problem, _) = await herald.Admin.PostAsync($"{Route}/endpoints", new { url = _url, eventTypes = new[] { "invoice.paid" } });
        Assert.Equal(HttpStatusCode.BadRequest, refused);
        Assert.True(problem.GetProperty("errors").TryGetProperty("eventTypes", out _), problem.ToString());
        Assert.Equal(HttpStatusCode.BadRequest, (await herald.Admin.PostAsync($"{Route}/endpoints", new { url = "not a url" })).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await herald.Admin.GetAsync($"{Route}/endpoints/ep_missing")).Status);
    }

    [Fact]
    public async Task The_operations_application_registers_exactly_the_event_types_herald_emits()
    {
        await using var database = await herald.OpenDatabaseAsync();
        await using var query = new Npgsql.NpgsqlCommand("SELECT name FROM event_types WHERE application_id = $1 AND NOT archived ORDER BY name", database);
        query.Parameters.Add(new() { Value = OperationalEvents.ApplicationId });
        var names = new List<string>();
        await using (var reader = await query.ExecuteReaderAsync())
        {
            while (await reader.ReadAsync()) names.Add(reader.GetString(0));
        }
        Assert.Equal(OperationalEventTypes.All.Order(StringComparer.Ordinal), names.Order(StringComparer.Ordinal));
    }

    private async Task<List<string>> AllApplicationIdsAsync()
    {
        var ids = new List<string>();
        for (var iterator = ""; ;)
        {
            var (_, page, _) = await herald.Admin.GetAsync($"/api/v1/apps?limit=250&iterator={Uri.EscapeDataString(iterator)}");
            ids.AddRange(page.GetProperty("data").EnumerateArray().Select(a => a.GetProperty("id").GetString()!));
            if (page.GetProperty("done").GetBoolean()) return ids;
            iterator = page.GetProperty("iterator").GetString()!;
        }
    }

    private static DateTimeOffset Time(JsonElement e) => DateTimeOffset.Parse(e.GetProperty("timestamp").GetString()!, System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>Every operational event that reached this test's operational endpoint, each checked: its signature verifies
    /// with the operational endpoint's secret, and its body is a Standard Webhooks event of an operational type.</summary>
    private List<(ReceivedWebhook Webhook, JsonElement Root)> Events()
    {
        var events = new List<(ReceivedWebhook, JsonElement)>();
        foreach (var webhook in herald.Receiver.ReceivedAt(_url))
        {
            new StandardWebhook(_secret).Verify(webhook.Body, webhook.HeaderDictionary());
            var root = JsonDocument.Parse(webhook.Body).RootElement.Clone();
            Assert.Contains(root.GetProperty("type").GetString(), OperationalEventTypes.All);
            events.Add((webhook, root));
        }
        return events;
    }

    private List<(ReceivedWebhook Webhook, JsonElement Root)> Events(string type, string endpointId) =>
        [.. Events().Where(e => e.Root.GetProperty("type").GetString() == type
                                && e.Root.GetProperty("data").GetProperty("endpointId").GetString() == endpointId)];

    private async Task<JsonElement> WaitForEventAsync(string type, string endpointId) => (await WaitForEventsAsync(type, endpointId, 1))[0];

    private async Task<IReadOnlyList<JsonElement>> WaitForEventsAsync(string type, string endpointId, int count)
    {
        var deadline = DateTime.UtcNow + Patience;
        while (true)
        {
            var found = Events(type, endpointId);
            if (found.Count >= count) return [.. found.Select(e => e.Root)];
            if (DateTime.UtcNow > deadline)
                throw new TimeoutException($"{found.Count} of {count} {type} events about {endpointId} arrived within {Patience}; " +
                    $"{herald.Receiver.ReceivedAt(_url).Count} operational webhooks in all.");
            await Task.Delay(100);
        }
    }
}
