using System.Net;
using System.Text.Json;
using Herald.Tests.Harness;

namespace Herald.Tests.Api;

[Collection(HeraldAppCollection.Name)]
public sealed class EndpointsApiTests(HeraldAppFixture herald)
{
    [Fact]
    public async Task Endpoints_are_created_read_listed_replaced_and_deleted()
    {
        var app = await herald.Admin.CreateApplicationAsync();
        var created = await herald.Admin.PostOkAsync($"/api/v1/apps/{app}/endpoints", new
        {
            url = "https://example.com/hooks",
            description = "billing",
            eventTypes = new[] { "invoice.paid", "invoice.paid", "invoice.failed" },
            rateLimit = 10,
            headers = new Dictionary<string, string> { ["X-Tenant"] = "acme", ["Authorization"] = "Basic\tYWxhZGRpbjpvcGVuc2VzYW1l" },
        });
        var id = created.GetProperty("id").GetString()!;
        Assert.StartsWith("ep_", id);
        Assert.Equal(["invoice.paid", "invoice.failed"], created.GetProperty("eventTypes").EnumerateArray().Select(e => e.GetString()));
        Assert.False(created.TryGetProperty("secret", out _));

        var (_, fetched, _) = await herald.Admin.GetAsync($"/api/v1/apps/{app}/endpoints/{id}");
        Assert.Equal("acme", fetched.GetProperty("headers").GetProperty("X-Tenant").GetString());
        Assert.Equal(10, fetched.GetProperty("rateLimit").GetInt32());

        var (_, replaced, _) = await herald.Admin.PutAsync($"/api/v1/apps/{app}/endpoints/{id}", new { url = "https://example.com/v2", disabled = true });
        Assert.Equal("https://example.com/v2", replaced.GetProperty("url").GetString());
        Assert.True(replaced.GetProperty("disabled").GetBoolean());
        Assert.Equal("Disabled through the API.", replaced.GetProperty("disabledReason").GetString());
        Assert.Equal(JsonValueKind.Null, replaced.GetProperty("eventTypes").ValueKind);

        var (_, enabled, _) = await herald.Admin.PutAsync($"/api/v1/apps/{app}/endpoints/{id}", new { url = "https://example.com/v2", disabled = false });
        Assert.Equal(JsonValueKind.Null, enabled.GetProperty("disabledReason").ValueKind);

        Assert.True(await AuthAndApplicationsTests.ListContainsAsync(herald.Admin, $"/api/v1/apps/{app}/endpoints", id));
        Assert.Equal(HttpStatusCode.NoContent, (await herald.Admin.DeleteAsync($"/api/v1/apps/{app}/endpoints/{id}")).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await herald.Admin.GetAsync($"/api/v1/apps/{app}/endpoints/{id}")).Status);
    }

    [Fact]
    public async Task A_supplied_secret_is_kept_and_a_generated_one_has_the_standard_form()
    {
        var app = await herald.Admin.CreateApplicationAsync();
        var mine = "whsec_" + Convert.ToBase64String(new byte[24].Select((_, i) => (byte)i).ToArray());
        var withSecret = await herald.Admin.PostOkAsync($"/api/v1/apps/{app}/endpoints", new { url = "https://example.com/a", secret = mine });
        var (_, secret, _) = await herald.Admin.GetAsync($"/api/v1/apps/{app}/endpoints/{withSecret.GetProperty("id").GetString()}/secret");
        Assert.Equal(mine, secret.GetProperty("key").GetString());

        var (_, generated) = await herald.Admin.CreateEndpointAsync(app, new Uri("https://example.com/b"));
        Assert.Matches("^whsec_[A-Za-z0-9+/]{43}=$", generated);
    }

    [Theory]
    [InlineData("""{"url":"ftp://example.com/x"}""", "url")]
    [InlineData("""{"url":"/relative"}""", "url")]
    [InlineData("""{"url":"https://user:pass@example.com/"}""", "url")]
    [InlineData("""{"url":"https://example.com/#frag"}""", "url")]
    [InlineData("""{}""", "url")]
    [InlineData("""{"url":"https://example.com","eventTypes":["not valid!"]}""", "eventTypes")]
    [InlineData("""{"url":"https://example.com","rateLimit":0}""", "rateLimit")]
    [InlineData("""{"url":"https://example.com","headers":{"webhook-signature":"x"}}""", "headers")]
    [InlineData("""{"url":"https://example.com","headers":{"bad header":"x"}}""", "headers")]
    [InlineData("""{"url":"https://example.com","headers":{"X-A":"line\nbreak"}}""", "headers")]
    [InlineData("""{"url":"https://example.com","headers":{"X-A":"caf\u00e9"}}""", "headers")]
    [InlineData("""{"url":"https://example.com","headers":{"X-A":" leading space"}}""", "headers")]
    [InlineData("""{"url":"https://example.com","headers":{"X-A":"trailing tab\t"}}""", "headers")]
    [InlineData("""{"url":"https://example.com","headers":{"X-A":"del\u007f"}}""", "headers")]
    [InlineData("""{"url":"https://example.com","headers":{"X-A":"bell\u0007"}}""", "headers")]
    [InlineData("""{"url":"https://example.com","secret":"whsec_short"}""", "secret")]
    [InlineData("""{"url":"https://example.com","secret":"nope"}""", "secret")]
    [InlineData("""{"url":"https://example.com","headers":["x"]}""", "headers")]
    public async Task Invalid_endpoints_are_400_problems_naming_the_field(string json, string field)
    {
        var app = await herald.Admin.CreateApplicationAsync();
        var (status, problem, _) = await herald.Admin.PostAsync($"/api/v1/apps/{app}/endpoints", json);

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.True(problem.GetProperty("errors").TryGetProperty(field, out _), problem.ToString());
    }

    [Fact]
    public async Task A_filter_must_name_registered_types_when_the_application_requires_them()
    {
        var app = await herald.Admin.CreateApplicationAsync(settings: new { name = "strict", requireRegisteredEventTypes = true });
        await herald.Admin.PostOkAsync($"/api/v1/apps/{app}/event-types", new { name = "invoice.paid" });

        Assert.Equal(HttpStatusCode.Created,
            (await herald.Admin.PostAsync($"/api/v1/apps/{app}/endpoints", new { url = "https://example.com", eventTypes = new[] { "invoice.paid" } })).Status);
        var (status, problem, _) = await herald.Admin.PostAsync($"/api/v1/apps/{app}/endpoints", new { url = "https://example.com", eventTypes = new[] { "invoice.lost" } });
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Contains("invoice.lost", problem.GetProperty("errors").GetProperty("eventTypes")[0].GetString());
    }

    [Fact]
    public async Task Endpoints_of_an_unknown_application_are_404()
    {
        var (status, _, _) = await herald.Admin.PostAsync("/api/v1/apps/app_missing/endpoints", new { url = "https://example.com" });
        Assert.Equal(HttpStatusCode.NotFound, status);
    }
}
