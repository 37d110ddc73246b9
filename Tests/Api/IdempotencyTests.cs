using System.Diagnostics;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using Herald.Tests.Harness;
using Npgsql;

namespace Herald.Tests.Api;

[Collection(HeraldAppCollection.Name)]
public sealed class IdempotencyTests(HeraldAppFixture herald)
{
    [Fact]
    public async Task Twenty_identical_requests_racing_with_one_key_create_one_message()
    {
        var app = await herald.Admin.CreateApplicationAsync();
        var key = Guid.NewGuid().ToString();
        var body = new { eventType = "order.placed", payload = new { order = 42 } };

        var responses = await Task.WhenAll(Enumerable.Range(0, 20).Select(_ =>
            herald.Admin.PostAsync($"/api/v1/apps/{app}/messages", body, idempotencyKey: key)));

        Assert.All(responses, r => Assert.Equal(HttpStatusCode.Accepted, r.Status));
        var ids = responses.Select(r => r.Body.GetProperty("id").GetString()).Distinct().ToList();
        Assert.Single(ids);
        Assert.All(responses, r => Assert.Equal($"/api/v1/apps/{app}/messages/{ids[0]}", r.Response.Headers.Location?.OriginalString));
        var (_, list, _) = await herald.Admin.GetAsync($"/api/v1/apps/{app}/messages");
        Assert.Equal(1, list.GetProperty("data").GetArrayLength());
        Assert.Equal(19, responses.Count(r => r.Response.Headers.Contains("idempotent-replayed")));
    }

    [Fact]
    public async Task The_same_key_with_a_different_body_is_422_and_creates_nothing()
    {
        var app = await herald.Admin.CreateApplicationAsync();
        var key = Guid.NewGuid().ToString();
        await herald.Admin.PostOkAsync($"/api/v1/apps/{app}/messages", new { eventType = "a.b", payload = new { n = 1 } }, HttpStatusCode.Accepted);
        var first = await herald.Admin.PostAsync($"/api/v1/apps/{app}/messages", new { eventType = "a.b", payload = new { n = 2 } }, key);
        var (status, problem, response) = await herald.Admin.PostAsync($"/api/v1/apps/{app}/messages", new { eventType = "a.b", payload = new { n = 3 } }, key);

        Assert.Equal(HttpStatusCode.Accepted, first.Status);
        Assert.Equal(HttpStatusCode.UnprocessableEntity, status);
        Assert.Equal(422, problem.GetProperty("status").GetInt32());
        // Where the key's first request put what it made.
        Assert.Equal($"/api/v1/apps/{app}/messages/{first.Body.GetProperty("id").GetString()}", response.Headers.Location?.OriginalString);
        var (_, list, _) = await herald.Admin.GetAsync($"/api/v1/apps/{app}/messages");
        Assert.Equal(2, list.GetProperty("data").GetArrayLength());
    }

    [Fact]
    public async Task Other_posts_are_idempotent_too_and_failures_are_not_remembered()
    {
        var key = Guid.NewGuid().ToString();
        var first = await herald.Admin.PostAsync("/api/v1/apps", new { name = "once" }, key);
        var again = await herald.Admin.PostAsync("/api/v1/apps", new { name = "once" }, key);
        Assert.Equal(HttpStatusCode.Created, again.Status);
        Assert.Equal(first.Body.GetProperty("id").GetString(), again.Body.GetProperty("id").GetString());

        var failing = Guid.NewGuid().ToString();
        Assert.Equal(HttpStatusCode.BadRequest, (await herald.Admin.PostAsync("/api/v1/apps", new { name = "" }, failing)).Status);
        // A failure frees the key: the identical retry runs again (and fails again, for the same reason).
        Assert.Equal(HttpStatusCode.BadRequest, (await herald.Admin.PostAsync("/api/v1/apps", new { name = "" }, failing)).Status);
    }

    [Fact]
    public async Task Keys_are_scoped_to_the_caller()
    {
        var a = await herald.Admin.CreateApplicationAsync();
        var b = await herald.Admin.CreateApplicationAsync();
        using var clientA = herald.Client(await herald.Admin.CreateApplicationKeyAsync(a));
        using var clientB = herald.Client(await herald.Admin.CreateApplicationKeyAsync(b));
        var body = new { eventType = "a.b", payload = new { } };

        var fromA = await clientA.PostAsync($"/api/v1/apps/{a}/messages", body, "shared-key");
        var fromB = await clientB.PostAsync($"/api/v1/apps/{b}/messages", body, "shared-key");

        Assert.Equal(HttpStatusCode.Accepted, fromB.Status);
        Assert.NotEqual(fromA.Body.GetProperty("id").GetString(), fromB.Body.GetProperty("id").GetString());
    }

    [Fact]
    public async Task A_claim_left_by_a_replica_that_died_mid_request_is_taken_over_within_seconds()
    {
        var app = await herald.Admin.CreateApplicationAsync();
        var path = $"/api/v1/apps/{app}/messages";
        var body = Encoding.UTF8.GetBytes("""{"eventType":"order.placed","payload":{"order":7}}""");
        var key = Guid.NewGuid().ToString();
        // What a replica killed between claiming the key and finishing leaves behind: a claim whose lease runs out in 2 s.
        await using (var database = await herald.OpenDatabaseAsync())
        {
            await using var claim = new NpgsqlCommand("""
                INSERT INTO idempotency_keys (scope, key, request_hash, created_at, owner, locked_until)
                VALUES ('admin', $1, $2, now(), 'dead-replica', now() + interval '2 seconds')
                """, database);
            claim.Parameters.Add(new() { Value = key });
            claim.Parameters.Add(new() { Value = SHA256.HashData([.. Encoding.UTF8.GetBytes($"POST {path}\n"), .. body]) });
            await claim.ExecuteNonQueryAsync();
        }

        var clock = Stopwatch.StartNew();
        var (status, message, _) = await herald.Admin.PostAsync(path, body, key);

        Assert.Equal(HttpStatusCode.Accepted, status);
        Assert.InRange(clock.Elapsed, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(8));
        var (_, replay, response) = await herald.Admin.PostAsync(path, body, key);
        Assert.True(response.Headers.Contains("idempotent-replayed"));
        Assert.Equal(message.GetProperty("id").GetString(), replay.GetProperty("id").GetString());
    }

    [Fact]
    public async Task Clients_that_leave_mid_request_never_get_two_messages_for_one_key()
    {
        var app = await herald.Admin.CreateApplicationAsync();
        var path = $"/api/v1/apps/{app}/messages";
        var keys = Enumerable.Range(0, 20).Select(_ => Guid.NewGuid().ToString()).ToList();
        for (var i = 0; i < keys.Count; i++)
        {
            // The client gives up at a different moment each time: before, during or after the commit.
            using var impatient = new CancellationTokenSource(TimeSpan.FromMilliseconds(i % 10));
            using var request = new HttpRequestMessage(HttpMethod.Post, path)
            {
                Content = System.Net.Http.Json.JsonContent.Create(new { eventType = "order.placed", payload = new { n = i } }),
            };
            request.Headers.Add("idempotency-key", keys[i]);
            try
            {
                using var _ = await herald.Admin.Http.SendAsync(request, impatient.Token);
            }
            catch (OperationCanceledException)
            {
            }
        }
        // Each client retries until it has its answer.
        var ids = new List<string>();
        for (var i = 0; i < keys.Count; i++)
        {
            var (status, message, _) = await herald.Admin.PostAsync(path, new { eventType = "order.placed", payload = new { n = i } }, keys[i]);
            Assert.Equal(HttpStatusCode.Accepted, status);
            ids.Add(message.GetProperty("id").GetString()!);
        }

        Assert.Equal(keys.Count, ids.Distinct().Count());
        var (_, list, _) = await herald.Admin.GetAsync($"{path}?limit=250");
        Assert.Equal(keys.Count, list.GetProperty("data").GetArrayLength());
    }

    [Fact]
    public async Task A_message_remembers_its_key_so_a_forgotten_claim_still_returns_it()
    {
        var app = await herald.Admin.CreateApplicationAsync();
        var path = $"/api/v1/apps/{app}/messages";
        var key = Guid.NewGuid().ToString();
        var first = await herald.Admin.PostAsync(path, new { eventType = "order.placed", payload = new { n = 1 } }, key);
        await using (var database = await herald.OpenDatabaseAsync())
        {
            await using var forget = new NpgsqlCommand("DELETE FROM idempotency_keys WHERE scope = 'admin' AND key = $1", database);
            forget.Parameters.Add(new() { Value = key });
            Assert.Equal(1, await forget.ExecuteNonQueryAsync());
        }

        var again = await herald.Admin.PostAsync(path, new { eventType = "order.placed", payload = new { n = 1 } }, key);

        Assert.Equal(HttpStatusCode.Accepted, again.Status);
        Assert.Equal(first.Body.GetProperty("id").GetString(), again.Body.GetProperty("id").GetString());
        var (_, list, _) = await herald.Admin.GetAsync(path);
        Assert.Equal(1, list.GetProperty("data").GetArrayLength());
    }
}
