using System.Net;
using Herald.Tests.Harness;

namespace Herald.Tests.Api;

[Collection(HeraldAppCollection.Name)]
public sealed class AuthAndApplicationsTests(HeraldAppFixture herald)
{
    [Theory]
    [InlineData(null)]
    [InlineData("hk_app_not-a-real-key")]
    [InlineData("")]
    public async Task Requests_without_a_valid_key_are_401_problems(string? key)
    {
        using var client = herald.Client(key);
        var (status, body, response) = await client.GetAsync("/api/v1/apps");

        Assert.Equal(HttpStatusCode.Unauthorized, status);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal(401, body.GetProperty("status").GetInt32());
        Assert.Equal("Bearer", response.Headers.WwwAuthenticate.ToString());
    }

    [Fact]
    public async Task A_non_bearer_authorization_header_is_401()
    {
        using var client = herald.Client(null);
        client.Http.DefaultRequestHeaders.TryAddWithoutValidation("Authorization", "Basic dXNlcjpwYXNz");
        var (status, _, _) = await client.GetAsync("/api/v1/apps");
        Assert.Equal(HttpStatusCode.Unauthorized, status);
    }

    [Fact]
    public async Task An_admin_creates_reads_lists_updates_and_deletes_applications()
    {
        var created = await herald.Admin.PostOkAsync("/api/v1/apps", new { name = "Globex", rateLimit = 50 });
        var id = created.GetProperty("id").GetString()!;
        Assert.StartsWith("app_", id);
        Assert.Equal(50, created.GetProperty("rateLimit").GetInt32());
        Assert.False(created.GetProperty("requireRegisteredEventTypes").GetBoolean());

        var (status, fetched, _) = await herald.Admin.GetAsync($"/api/v1/apps/{id}");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("Globex", fetched.GetProperty("name").GetString());

        var (_, updated, _) = await herald.Admin.PutAsync($"/api/v1/apps/{id}", new { name = "Globex Corp", requireRegisteredEventTypes = true });
        Assert.Equal("Globex Corp", updated.GetProperty("name").GetString());
        Assert.True(updated.GetProperty("requireRegisteredEventTypes").GetBoolean());
        Assert.Equal(System.Text.Json.JsonValueKind.Null, updated.GetProperty("rateLimit").ValueKind);

        Assert.True(await ListContainsAsync(herald.Admin, "/api/v1/apps", id));

        var (deleted, _, _) = await herald.Admin.DeleteAsync($"/api/v1/apps/{id}");
        Assert.Equal(HttpStatusCode.NoContent, deleted);
        Assert.Equal(HttpStatusCode.NotFound, (await herald.Admin.GetAsync($"/api/v1/apps/{id}")).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await herald.Admin.DeleteAsync($"/api/v1/apps/{id}")).Status);
    }

    [Fact]
    public async Task Lists_page_with_an_iterator_until_done()
    {
        for (var i = 0; i < 3; i++) await herald.Admin.CreateApplicationAsync($"page-{i}");
        var seen = new HashSet<string>();
        string? iterator = null;
        var pages = 0;
        while (true)
        {
            var (status, page, _) = await herald.Admin.GetAsync($"/api/v1/apps?limit=2{(iterator is null ? "" : $"&iterator={iterator}")}");
            Assert.Equal(HttpStatusCode.OK, status);
            pages++;
            foreach (var app in page.GetProperty("data").EnumerateArray()) Assert.True(seen.Add(app.GetProperty("id").GetString()!));
            if (page.GetProperty("done").GetBoolean()) break;
            iterator = page.GetProperty("iterator").GetString();
        }
        Assert.True(seen.Count >= 3);
        Assert.True(pages >= 2);
        Assert.Equal(HttpStatusCode.BadRequest, (await herald.Admin.GetAsync("/api/v1/apps?limit=0")).Status);
        Assert.Equal(HttpStatusCode.BadRequest, (await herald.Admin.GetAsync("/api/v1/apps?limit=abc")).Status);
    }

    [Fact]
    public async Task An_application_key_reaches_its_own_application_but_cannot_manage_applications()
    {
        var app = await herald.Admin.CreateApplicationAsync();
        using var client = herald.Client(await herald.Admin.CreateApplicationKeyAsync(app));

        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync($"/api/v1/apps/{app}")).Status);
        Assert.Equal(HttpStatusCode.Forbidden, (await client.GetAsync("/api/v1/apps")).Status);
        Assert.Equal(HttpStatusCode.Forbidden, (await client.PostAsync("/api/v1/apps", new { name = "x" })).Status);
        Assert.Equal(HttpStatusCode.Forbidden, (await client.DeleteAsync($"/api/v1/apps/{app}")).Status);
        Assert.Equal(HttpStatusCode.Forbidden, (await client.PostAsync("/api/v1/api-keys", new { name = "admin?" })).Status);
    }

    [Fact]
    public async Task Keys_are_shown_once_listed_without_the_secret_and_stop_working_when_revoked()
    {
        var app = await herald.Admin.CreateApplicationAsync();
        var created = await herald.Admin.PostOkAsync($"/api/v1/apps/{app}/api-keys", new { name = "ci" });
        var key = created.GetProperty("key").GetString()!;
        var keyId = created.GetProperty("id").GetString()!;
        Assert.StartsWith("hk_app_", key);
        Assert.StartsWith(created.GetProperty("prefix").GetString()!, key);

        var (_, list, _) = await herald.Admin.GetAsync($"/api/v1/apps/{app}/api-keys");
        var listed = Assert.Single(list.GetProperty("data").EnumerateArray());
        Assert.False(listed.TryGetProperty("key", out _));

        using var client = herald.Client(key);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync($"/api/v1/apps/{app}")).Status);
        Assert.Equal(HttpStatusCode.NoContent, (await herald.Admin.DeleteAsync($"/api/v1/apps/{app}/api-keys/{keyId}")).Status);
        Assert.Equal(HttpStatusCode.Unauthorized, (await client.GetAsync($"/api/v1/apps/{app}")).Status);
    }

    [Fact]
    public async Task Admin_keys_made_through_the_api_can_manage_applications()
    {
        var created = await herald.Admin.PostOkAsync("/api/v1/api-keys", new { name = "ops" });
        using var client = herald.Client(created.GetProperty("key").GetString()!);

        var app = await client.PostOkAsync("/api/v1/apps", new { name = "made by ops" });
        Assert.StartsWith("app_", app.GetProperty("id").GetString());
    }

    [Theory]
    [InlineData("""{"name":""}""", "name")]
    [InlineData("""{"name":"ok","rateLimit":0}""", "rateLimit")]
    [InlineData("""{"name":5}""", "name")]
    [InlineData("""{"name":"ok","rateLimit":"fast"}""", "rateLimit")]
    [InlineData("""not json""", "body")]
    [InlineData("""[]""", "body")]
    public async Task Invalid_applications_are_400_problems_naming_the_field(string json, string field)
    {
        var (status, problem, _) = await herald.Admin.PostAsync("/api/v1/apps", json);

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.True(problem.GetProperty("errors").TryGetProperty(field, out _), problem.ToString());
    }

    internal static async Task<bool> ListContainsAsync(RestClient client, string path, string id)
    {
        string? iterator = null;
        while (true)
        {
            var (_, page, _) = await client.GetAsync($"{path}?limit=250{(iterator is null ? "" : $"&iterator={iterator}")}");
            if (page.GetProperty("data").EnumerateArray().Any(item => item.GetProperty("id").GetString() == id)) return true;
            if (page.GetProperty("done").GetBoolean()) return false;
            iterator = page.GetProperty("iterator").GetString();
        }
    }
}
