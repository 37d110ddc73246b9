using System.Net;
using Herald.Tests.Infrastructure;

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
        var (status, problem, _) = await herald.Admin.PostAsync($"/api/v1/apps/{app}/messages", new { eventType = "a.b", payload = new { n = 3 } }, key);

        Assert.Equal(HttpStatusCode.Accepted, first.Status);
        Assert.Equal(HttpStatusCode.UnprocessableEntity, status);
        Assert.Equal(422, problem.GetProperty("status").GetInt32());
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
}
