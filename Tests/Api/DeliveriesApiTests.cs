using System.Net;
using System.Text.Json;
using Grpc.Core;
using Herald.Grpc.V1;
using Herald.Tests.Harness;
using Npgsql;
using DeliveriesClient = Herald.Grpc.V1.Deliveries.DeliveriesClient;

namespace Herald.Tests.Api;

/// <summary>Resend, recover and list deliveries, over REST and gRPC. Endpoints here subscribe to an event type the
/// messages do not have, so the delivery engine never fans a message out to them: every delivery row is the test's
/// own, seeded or replayed. Replayed ones really are delivered, to the test receiver, which answers slowly so that a
/// delivery stays pending while the test looks at it.</summary>
[Collection(HeraldAppCollection.Name)]
public sealed class DeliveriesApiTests(HeraldAppFixture herald)
{
    private const string EventType = "invoice.paid";
    private static readonly string[] OtherTypes = ["never.sent"];
    private static readonly TimeSpan Tolerance = TimeSpan.FromSeconds(2);
    private static readonly TimeSpan DeliveryTimeout = TimeSpan.FromSeconds(15);

    [Fact]
    public async Task Resend_makes_the_delivery_due_now_and_it_is_delivered_again_each_time()
    {
        var (app, client) = await ApplicationAsync();
        var url = SlowReceiver();
        var (endpoint, _) = await client.CreateEndpointAsync(app, url, OtherTypes);
        var message = await client.SendMessageAsync(app, EventType, new { n = 1 });

        var before = DateTimeOffset.UtcNow;
        var (status, delivery, response) = await client.PostAsync($"/api/v1/apps/{app}/messages/{message}/endpoints/{endpoint}/resend", null);
        var after = DateTimeOffset.UtcNow;

        Assert.True(status == HttpStatusCode.Accepted, $"{(int)status} {delivery}");
        Assert.Equal($"/api/v1/apps/{app}/messages/{message}/deliveries", response.Headers.Location?.OriginalString);
        Assert.Equal(message, delivery.GetProperty("messageId").GetString());
        Assert.Equal(endpoint, delivery.GetProperty("endpointId").GetString());
        Assert.Equal("pending", delivery.GetProperty("status").GetString());
        Assert.Equal(0, delivery.GetProperty("attempts").GetInt32());
        AssertNow(delivery.GetProperty("nextAttemptAt").GetDateTimeOffset(), before, after);
        AssertNow(delivery.GetProperty("updatedAt").GetDateTimeOffset(), before, after);
        var row = await ReadRowAsync(message, endpoint);
        Assert.Equal(app, row.ApplicationId);
        AssertDueNow(row, before, after);

        // Due now means delivered now: the engine sends it within a scheduler tick.
        await herald.Receiver.WaitForAsync(message, DeliveryTimeout, url.AbsolutePath);
        Assert.Equal(1, (await WaitForRowAsync(message, endpoint, "succeeded")).Attempts);
        Assert.Single(herald.Receiver.ReceivedAt(url));

        // Resending a delivered message sends it once more; the attempt count goes on.
        before = DateTimeOffset.UtcNow;
        (status, delivery, _) = await client.PostAsync($"/api/v1/apps/{app}/messages/{message}/endpoints/{endpoint}/resend", null);
        after = DateTimeOffset.UtcNow;
        Assert.Equal(HttpStatusCode.Accepted, status);
        Assert.Equal("pending", delivery.GetProperty("status").GetString());
        Assert.Equal(1, delivery.GetProperty("attempts").GetInt32());
        AssertDueNow(await ReadRowAsync(message, endpoint), before, after);
        Assert.Equal(2, (await WaitForRowAsync(message, endpoint, "succeeded", attempts: 2)).Attempts);
        Assert.Equal(2, herald.Receiver.ReceivedAt(url).Count);
    }

    [Fact]
    public async Task Resend_is_409_for_a_disabled_endpoint_or_a_payload_past_retention_and_404_for_unknown_ids()
    {
        var (app, client) = await ApplicationAsync();
        var (endpoint, _) = await client.CreateEndpointAsync(app, new Uri("https://example.com/enabled"), OtherTypes);
        var disabled = (await client.PostOkAsync($"/api/v1/apps/{app}/endpoints",
            new { url = "https://example.com/disabled", eventTypes = OtherTypes, disabled = true })).GetProperty("id").GetString()!;
        var message = await client.SendMessageAsync(app, EventType, new { n = 1 });
        var expired = await client.SendMessageAsync(app, EventType, new { n = 2 });
        await using (var database = await herald.OpenDatabaseAsync())
        await using (var retention = new NpgsqlCommand("UPDATE messages SET payload = NULL WHERE id = $1", database))
        {
            retention.Parameters.Add(new() { Value = expired });
            Assert.Equal(1, await retention.ExecuteNonQueryAsync());
        }

        var (status, problem, _) = await client.PostAsync($"/api/v1/apps/{app}/messages/{message}/endpoints/{disabled}/resend", null);
        Assert.Equal(HttpStatusCode.Conflict, status);
        Assert.Contains("disabled", problem.GetProperty("title").GetString());
        (status, problem, _) = await client.PostAsync($"/api/v1/apps/{app}/messages/{expired}/endpoints/{endpoint}/resend", null);
        Assert.Equal(HttpStatusCode.Conflict, status);
        Assert.Contains("retained", problem.GetProperty("title").GetString());

        Assert.Equal(HttpStatusCode.NotFound, (await client.PostAsync($"/api/v1/apps/{app}/messages/msg_unknown/endpoints/{endpoint}/resend", null)).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await client.PostAsync($"/api/v1/apps/{app}/messages/{message}/endpoints/ep_unknown/resend", null)).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await client.GetAsync($"/api/v1/apps/{app}/messages/msg_unknown/deliveries")).Status);

        var deliveries = new DeliveriesClient(herald.Grpc);
        var auth = HeraldAppFixture.Bearer(herald.AdminKey);
        var error = await Assert.ThrowsAsync<RpcException>(() => deliveries.ResendMessageAsync(
            new ResendMessageRequest { AppId = app, MessageId = message, EndpointId = disabled }, auth).ResponseAsync);
        Assert.Equal(StatusCode.FailedPrecondition, error.StatusCode);
        error = await Assert.ThrowsAsync<RpcException>(() => deliveries.ResendMessageAsync(
            new ResendMessageRequest { AppId = app, MessageId = expired, EndpointId = endpoint }, auth).ResponseAsync);
        Assert.Equal(StatusCode.FailedPrecondition, error.StatusCode);

        // Nothing was written by any refusal.
        Assert.Equal(0, await CountRowsAsync(app));
    }

    [Fact]
    public async Task Recover_makes_failed_deliveries_since_a_time_due_now_and_nothing_else()
    {
        var (app, client) = await ApplicationAsync();
        var url = SlowReceiver();
        var otherUrl = SlowReceiver();
        var (endpoint, _) = await client.CreateEndpointAsync(app, url, OtherTypes);
        var (other, _) = await client.CreateEndpointAsync(app, otherUrl, OtherTypes);
        var recent = await client.SendMessageAsync(app, EventType, new { n = 1 });
        var old = await client.SendMessageAsync(app, EventType, new { n = 2 });
        var succeeded = await client.SendMessageAsync(app, EventType, new { n = 3 });
        var since = DateTimeOffset.UtcNow.AddHours(-1);
        await SeedAsync(recent, endpoint, app, "failed", since.AddMinutes(10), attempts: 2, lastError: "timeout");
        await SeedAsync(old, endpoint, app, "failed", since.AddMinutes(-10), attempts: 2, lastError: "timeout");
        await SeedAsync(succeeded, endpoint, app, "succeeded", since.AddMinutes(20), attempts: 1, lastError: null);
        await SeedAsync(recent, other, app, "failed", since.AddMinutes(10), attempts: 2, lastError: "timeout");

        var before = DateTimeOffset.UtcNow;
        var (status, body, _) = await client.PostAsync($"/api/v1/apps/{app}/endpoints/{endpoint}/recover", new { since = since.ToString("O") });
        var after = DateTimeOffset.UtcNow;

        Assert.True(status == HttpStatusCode.Accepted, $"{(int)status} {body}");
        Assert.Equal(1, body.GetProperty("recovered").GetInt32());
        AssertDueNow(await ReadRowAsync(recent, endpoint), before, after);
        Assert.Equal("failed", (await ReadRowAsync(old, endpoint)).Status);
        Assert.Equal("succeeded", (await ReadRowAsync(succeeded, endpoint)).Status);
        Assert.Equal("failed", (await ReadRowAsync(recent, other)).Status);
        // Only the recovered delivery is sent.
        await herald.Receiver.WaitForAsync(recent, DeliveryTimeout, url.AbsolutePath);
        Assert.Equal(3, (await WaitForRowAsync(recent, endpoint, "succeeded")).Attempts);
        Assert.Equal([recent], herald.Receiver.ReceivedAt(url).Select(w => w.MessageId));
        Assert.Empty(herald.Receiver.ReceivedAt(otherUrl));

        // gRPC: the same operation; the other endpoint's failure is the only one left.
        var deliveries = new DeliveriesClient(herald.Grpc);
        before = DateTimeOffset.UtcNow;
        var recovered = await deliveries.RecoverEndpointAsync(new RecoverEndpointRequest
        {
            AppId = app, EndpointId = other, Since = Google.Protobuf.WellKnownTypes.Timestamp.FromDateTimeOffset(since),
        }, HeraldAppFixture.Bearer(herald.AdminKey));
        after = DateTimeOffset.UtcNow;
        Assert.Equal(1, recovered.Recovered);
        AssertDueNow(await ReadRowAsync(recent, other), before, after);
    }

    [Fact]
    public async Task Recover_skips_payloads_past_retention_and_refuses_a_disabled_endpoint()
    {
        var (app, client) = await ApplicationAsync();
        var (endpoint, _) = await client.CreateEndpointAsync(app, new Uri("https://example.com/recover"), OtherTypes);
        var expired = await client.SendMessageAsync(app, EventType, new { n = 1 });
        await SeedAsync(expired, endpoint, app, "failed", DateTimeOffset.UtcNow.AddMinutes(-5), attempts: 8, lastError: "timeout");
        await using (var database = await herald.OpenDatabaseAsync())
        await using (var retention = new NpgsqlCommand("UPDATE messages SET payload = NULL WHERE id = $1", database))
        {
            retention.Parameters.Add(new() { Value = expired });
            await retention.ExecuteNonQueryAsync();
        }
        var since = DateTimeOffset.UtcNow.AddHours(-1).ToString("O");

        var (status, body, _) = await client.PostAsync($"/api/v1/apps/{app}/endpoints/{endpoint}/recover", new { since });
        Assert.Equal(HttpStatusCode.Accepted, status);
        Assert.Equal(0, body.GetProperty("recovered").GetInt32());
        Assert.Equal("failed", (await ReadRowAsync(expired, endpoint)).Status);

        await client.PutAsync($"/api/v1/apps/{app}/endpoints/{endpoint}", new { url = "https://example.com/recover", eventTypes = OtherTypes, disabled = true });
        Assert.Equal(HttpStatusCode.Conflict, (await client.PostAsync($"/api/v1/apps/{app}/endpoints/{endpoint}/recover", new { since })).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await client.PostAsync($"/api/v1/apps/{app}/endpoints/ep_unknown/recover", new { since })).Status);
    }

    [Theory]
    [InlineData("{}")]
    [InlineData("""{"since":null}""")]
    [InlineData("""{"since":"yesterday"}""")]
    [InlineData("""{"since":"2026-11-25T12:00:00"}""")]
    [InlineData("""{"since":"2026-11-25"}""")]
    [InlineData("""{"since":"2026-13-45T12:00:00Z"}""")]
    [InlineData("""{"since":1764072000}""")]
    [InlineData("""{"since":"2999-01-01T00:00:00Z"}""")]
    public async Task Recover_without_a_valid_past_since_is_400_naming_since(string json)
    {
        var (app, client) = await ApplicationAsync();
        var (endpoint, _) = await client.CreateEndpointAsync(app, new Uri("https://example.com/recover"), OtherTypes);

        var (status, problem, _) = await client.PostAsync($"/api/v1/apps/{app}/endpoints/{endpoint}/recover", json);

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.True(problem.GetProperty("errors").TryGetProperty("since", out _), problem.ToString());
    }

    [Fact]
    public async Task Recover_over_grpc_refuses_a_missing_future_or_impossible_since()
    {
        var (app, client) = await ApplicationAsync();
        var (endpoint, _) = await client.CreateEndpointAsync(app, new Uri("https://example.com/recover"), OtherTypes);
        var deliveries = new DeliveriesClient(herald.Grpc);
        var auth = HeraldAppFixture.Bearer(herald.AdminKey);

        foreach (var since in new Google.Protobuf.WellKnownTypes.Timestamp?[]
        {
            null,
            Google.Protobuf.WellKnownTypes.Timestamp.FromDateTimeOffset(DateTimeOffset.UtcNow.AddDays(1)),
            new() { Seconds = long.MaxValue },
            new() { Seconds = 0, Nanos = -1 },
        })
        {
            var error = await Assert.ThrowsAsync<RpcException>(() => deliveries.RecoverEndpointAsync(
                new RecoverEndpointRequest { AppId = app, EndpointId = endpoint, Since = since }, auth).ResponseAsync);
            Assert.True(error.StatusCode == StatusCode.InvalidArgument && error.Status.Detail.Contains("since"), $"{since}: {error.Status}");
        }
    }

    [Fact]
    public async Task Deliveries_of_a_message_are_listed_per_endpoint_a_page_at_a_time()
    {
        var (app, client) = await ApplicationAsync();
        var (one, _) = await client.CreateEndpointAsync(app, SlowReceiver(), OtherTypes);
        var (two, _) = await client.CreateEndpointAsync(app, SlowReceiver(), OtherTypes);
        // Listed by endpoint id; ids sort by creation time, but two may share a millisecond.
        var (first, second) = string.CompareOrdinal(one, two) < 0 ? (one, two) : (two, one);
        var message = await client.SendMessageAsync(app, EventType, new { n = 1 });
        var (_, empty, _) = await client.GetAsync($"/api/v1/apps/{app}/messages/{message}/deliveries");
        Assert.Equal(0, empty.GetProperty("data").GetArrayLength());

        var updatedAt = DateTimeOffset.UtcNow.AddMinutes(-3);
        await SeedAsync(message, first, app, "failed", updatedAt, attempts: 3, lastError: "HTTP 503");
        await client.PostAsync($"/api/v1/apps/{app}/messages/{message}/endpoints/{second}/resend", null);

        var (status, page, _) = await client.GetAsync($"/api/v1/apps/{app}/messages/{message}/deliveries?limit=1");
        Assert.Equal(HttpStatusCode.OK, status);
        var only = Assert.Single(page.GetProperty("data").EnumerateArray());
        Assert.False(page.GetProperty("done").GetBoolean());
        Assert.Equal(first, only.GetProperty("endpointId").GetString());
        Assert.Equal("failed", only.GetProperty("status").GetString());
        Assert.Equal(3, only.GetProperty("attempts").GetInt32());
        Assert.Equal("HTTP 503", only.GetProperty("lastError").GetString());
        Assert.Equal(JsonValueKind.Null, only.GetProperty("nextAttemptAt").ValueKind);
        Assert.Equal(updatedAt.ToUnixTimeMilliseconds(), only.GetProperty("updatedAt").GetDateTimeOffset().ToUnixTimeMilliseconds());

        var (_, next, _) = await client.GetAsync($"/api/v1/apps/{app}/messages/{message}/deliveries?limit=1&iterator={page.GetProperty("iterator").GetString()}");
        Assert.Equal(second, Assert.Single(next.GetProperty("data").EnumerateArray()).GetProperty("endpointId").GetString());
        Assert.True(next.GetProperty("done").GetBoolean());

        var listed = await new DeliveriesClient(herald.Grpc).ListDeliveriesAsync(
            new MessageRef { AppId = app, MessageId = message }, HeraldAppFixture.Bearer(herald.AdminKey));
        Assert.Equal([first, second], listed.Data.Select(d => d.EndpointId));
        Assert.Equal(["failed", "pending"], listed.Data.Select(d => d.Status));
        Assert.True(listed.Done);
    }

    [Fact]
    public async Task Another_applications_key_can_neither_replay_nor_list_nor_watch_deliveries()
    {
        var (a, _) = await ApplicationAsync();
        var (b, clientB) = await ApplicationAsync();
        var (endpoint, _) = await herald.Admin.CreateEndpointAsync(a, new Uri("https://example.com/a"), OtherTypes);
        var (endpointB, _) = await herald.Admin.CreateEndpointAsync(b, new Uri("https://example.com/b"), OtherTypes);
        var message = await herald.Admin.SendMessageAsync(a, EventType, new { n = 1 });
        var failedAt = DateTimeOffset.UtcNow.AddMinutes(-1);
        await SeedAsync(message, endpoint, a, "failed", failedAt, attempts: 8, lastError: "timeout");
        var since = new { since = DateTimeOffset.UtcNow.AddHours(-1).ToString("O") };

        (HttpMethod Method, string Path, object? Body)[] matrix =
        [
            (HttpMethod.Post, $"/api/v1/apps/{a}/messages/{message}/endpoints/{endpoint}/resend", null),
            (HttpMethod.Post, $"/api/v1/apps/{a}/endpoints/{endpoint}/recover", since),
            (HttpMethod.Get, $"/api/v1/apps/{a}/messages/{message}/deliveries", null),
            (HttpMethod.Get, $"/api/v1/apps/{a}/deliveries/stream", null),
            (HttpMethod.Get, $"/api/v1/apps/{a}/deliveries/stream?endpointId={endpoint}", null),
            // B's own application, naming A's resources.
            (HttpMethod.Post, $"/api/v1/apps/{b}/messages/{message}/endpoints/{endpoint}/resend", null),
            (HttpMethod.Post, $"/api/v1/apps/{b}/messages/{message}/endpoints/{endpointB}/resend", null),
            (HttpMethod.Post, $"/api/v1/apps/{b}/endpoints/{endpoint}/recover", since),
            (HttpMethod.Get, $"/api/v1/apps/{b}/messages/{message}/deliveries", null),
            (HttpMethod.Get, $"/api/v1/apps/{b}/deliveries/stream?endpointId={endpoint}", null),
        ];
        foreach (var (method, path, body) in matrix)
        {
            var (status, _, _) = await clientB.SendAsync(method, path, body);
            Assert.True(status == HttpStatusCode.NotFound, $"{method} {path} with B's key: {(int)status}");
        }

        var deliveries = new DeliveriesClient(herald.Grpc);
        var asB = HeraldAppFixture.Bearer(await herald.Admin.CreateApplicationKeyAsync(b));
        var sinceProto = Google.Protobuf.WellKnownTypes.Timestamp.FromDateTimeOffset(DateTimeOffset.UtcNow.AddHours(-1));
        (string Call, Func<Task> Run)[] calls =
        [
            ("ResendMessage", () => deliveries.ResendMessageAsync(new ResendMessageRequest { AppId = a, MessageId = message, EndpointId = endpoint }, asB).ResponseAsync),
            ("ResendMessage via B", () => deliveries.ResendMessageAsync(new ResendMessageRequest { AppId = b, MessageId = message, EndpointId = endpointB }, asB).ResponseAsync),
            ("RecoverEndpoint", () => deliveries.RecoverEndpointAsync(new RecoverEndpointRequest { AppId = a, EndpointId = endpoint, Since = sinceProto }, asB).ResponseAsync),
            ("RecoverEndpoint via B", () => deliveries.RecoverEndpointAsync(new RecoverEndpointRequest { AppId = b, EndpointId = endpoint, Since = sinceProto }, asB).ResponseAsync),
            ("ListDeliveries", () => deliveries.ListDeliveriesAsync(new MessageRef { AppId = a, MessageId = message }, asB).ResponseAsync),
            ("ListDeliveries via B", () => deliveries.ListDeliveriesAsync(new MessageRef { AppId = b, MessageId = message }, asB).ResponseAsync),
        ];
        foreach (var (call, run) in calls)
        {
            var error = await Assert.ThrowsAsync<RpcException>(run);
            Assert.True(error.StatusCode == StatusCode.NotFound, $"{call} with B's key: {error.Status}");
        }

        // A's delivery is exactly as it was.
        var row = await ReadRowAsync(message, endpoint);
        Assert.Equal("failed", row.Status);
        Assert.Equal(failedAt.ToUnixTimeMilliseconds(), row.UpdatedAt.ToUnixTimeMilliseconds());
        Assert.Equal(1, await CountRowsAsync(a));
        Assert.Equal(0, await CountRowsAsync(b));
    }

    private async Task<(string App, RestClient Client)> ApplicationAsync()
    {
        var app = await herald.Admin.CreateApplicationAsync("deliveries");
        return (app, herald.Client(await herald.Admin.CreateApplicationKeyAsync(app)));
    }

    private static void AssertNow(DateTimeOffset value, DateTimeOffset before, DateTimeOffset after) =>
        Assert.InRange(value, before - Tolerance, after + Tolerance);

    /// <summary>Pending and due at the time it was made due (between <paramref name="before"/> and
    /// <paramref name="after"/>), or already leased by a Processor, which makes its lease expiry the next attempt time.</summary>
    internal static void AssertDueNow(StoredDelivery row, DateTimeOffset before, DateTimeOffset after)
    {
        Assert.Equal("pending", row.Status);
        var due = row.NextAttemptAt!.Value;
        var asWritten = due >= before - Tolerance && due <= after + Tolerance;
        var leased = due >= before + HeraldAppFixture.Lease - Tolerance && due <= DateTimeOffset.UtcNow + HeraldAppFixture.Lease + Tolerance;
        Assert.True(asWritten || leased, $"next_attempt_at {due:O} is neither now ({before:O}…{after:O}) nor a lease from now.");
        AssertNow(row.UpdatedAt, before, after);
    }

    /// <summary>A receiver path that answers 204 after a few seconds, so a delivery in flight stays pending that long.</summary>
    private Uri SlowReceiver() => SlowReceiver(herald);

    internal static Uri SlowReceiver(HeraldAppFixture herald)
    {
        var url = herald.Receiver.UrlFor(Guid.NewGuid().ToString("N"));
        herald.Receiver.ReplyAt(url, new Reply(204, TimeSpan.FromSeconds(3)));
        return url;
    }

    private async Task<StoredDelivery> WaitForRowAsync(string messageId, string endpointId, string status, int? attempts = null)
    {
        var deadline = DateTime.UtcNow + DeliveryTimeout;
        StoredDelivery row;
        while ((row = await ReadRowAsync(messageId, endpointId)).Status != status || (attempts is not null && row.Attempts != attempts))
        {
            Assert.True(DateTime.UtcNow < deadline, $"{messageId} → {endpointId} is still {row} after {DeliveryTimeout}.");
            await Task.Delay(100);
        }
        return row;
    }

    internal sealed record StoredDelivery(string Status, string ApplicationId, int Attempts, DateTimeOffset? NextAttemptAt, DateTimeOffset UpdatedAt);

    internal static async Task SeedAsync(HeraldAppFixture herald, string messageId, string endpointId, string applicationId, string status,
        DateTimeOffset updatedAt, int attempts, string? lastError)
    {
        await using var database = await herald.OpenDatabaseAsync();
        await using var seed = new NpgsqlCommand("""
            INSERT INTO deliveries (message_id, endpoint_id, application_id, status, attempts, next_attempt_at, last_error, created_at, updated_at)
            VALUES ($1, $2, $3, $4, $5, NULL, $6, $7, $7)
            ON CONFLICT (message_id, endpoint_id) DO UPDATE
            SET status = $4, attempts = $5, next_attempt_at = NULL, last_error = $6, updated_at = $7
            """, database);
        seed.Parameters.Add(new() { Value = messageId });
        seed.Parameters.Add(new() { Value = endpointId });
        seed.Parameters.Add(new() { Value = applicationId });
        seed.Parameters.Add(new() { Value = status });
        seed.Parameters.Add(new() { Value = attempts });
        seed.Parameters.Add(new() { Value = (object?)lastError ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Text });
        seed.Parameters.Add(new() { Value = updatedAt });
        await seed.ExecuteNonQueryAsync();
    }

    internal static async Task<StoredDelivery> ReadRowAsync(HeraldAppFixture herald, string messageId, string endpointId)
    {
        await using var database = await herald.OpenDatabaseAsync();
        await using var query = new NpgsqlCommand(
            "SELECT status, application_id, attempts, next_attempt_at, updated_at FROM deliveries WHERE message_id = $1 AND endpoint_id = $2", database);
        query.Parameters.Add(new() { Value = messageId });
        query.Parameters.Add(new() { Value = endpointId });
        await using var reader = await query.ExecuteReaderAsync();
        Assert.True(await reader.ReadAsync(), $"No delivery row for {messageId} → {endpointId}");
        return new StoredDelivery(reader.GetString(0), reader.GetString(1), reader.GetInt32(2),
            reader.IsDBNull(3) ? null : reader.GetFieldValue<DateTimeOffset>(3), reader.GetFieldValue<DateTimeOffset>(4));
    }

    private Task SeedAsync(string messageId, string endpointId, string applicationId, string status, DateTimeOffset updatedAt, int attempts, string? lastError) =>
        SeedAsync(herald, messageId, endpointId, applicationId, status, updatedAt, attempts, lastError);

    private Task<StoredDelivery> ReadRowAsync(string messageId, string endpointId) => ReadRowAsync(herald, messageId, endpointId);

    private async Task<long> CountRowsAsync(string applicationId)
    {
        await using var database = await herald.OpenDatabaseAsync();
        await using var query = new NpgsqlCommand("SELECT count(*) FROM deliveries WHERE application_id = $1", database);
        query.Parameters.Add(new() { Value = applicationId });
        return (long)(await query.ExecuteScalarAsync())!;
    }
}
