using System.Net;
using Herald.Tests.Harness;

namespace Herald.Tests.Api;

[Collection(HeraldAppCollection.Name)]
public sealed class EventTypesApiTests(HeraldAppFixture herald)
{
    [Fact]
    public async Task Event_types_are_created_listed_updated_and_archived()
    {
        var app = await herald.Admin.CreateApplicationAsync();
        var created = await herald.Admin.PostOkAsync($"/api/v1/apps/{app}/event-types", new { name = "invoice.paid", description = "Paid" });
        Assert.Equal("invoice.paid", created.GetProperty("name").GetString());
        await herald.Admin.PostOkAsync($"/api/v1/apps/{app}/event-types", new { name = "invoice.failed" });

        Assert.Equal(HttpStatusCode.Conflict, (await herald.Admin.PostAsync($"/api/v1/apps/{app}/event-types", new { name = "invoice.paid" })).Status);

        var (_, updated, _) = await herald.Admin.PutAsync($"/api/v1/apps/{app}/event-types/invoice.paid", new { description = "An invoice was paid" });
        Assert.Equal("An invoice was paid", updated.GetProperty("description").GetString());

        Assert.Equal(HttpStatusCode.NoContent, (await herald.Admin.DeleteAsync($"/api/v1/apps/{app}/event-types/invoice.failed")).Status);
        var (_, archived, _) = await herald.Admin.GetAsync($"/api/v1/apps/{app}/event-types/invoice.failed");
        Assert.True(archived.GetProperty("archived").GetBoolean());

        var (_, active, _) = await herald.Admin.GetAsync($"/api/v1/apps/{app}/event-types");
        Assert.Equal(["invoice.paid"], active.GetProperty("data").EnumerateArray().Select(t => t.GetProperty("name").GetString()));
        var (_, all, _) = await herald.Admin.GetAsync($"/api/v1/apps/{app}/event-types?includeArchived=true");
        Assert.Equal(2, all.GetProperty("data").GetArrayLength());

        Assert.Equal(HttpStatusCode.NotFound, (await herald.Admin.GetAsync($"/api/v1/apps/{app}/event-types/nope")).Status);
        Assert.Equal(HttpStatusCode.BadRequest, (await herald.Admin.PutAsync($"/api/v1/apps/{app}/event-types/invoice.paid", new { name = "renamed" })).Status);
    }

    [Theory]
    [InlineData("""{"name":"has space"}""")]
    [InlineData("""{"name":".leading"}""")]
    [InlineData("""{"name":"trailing."}""")]
    [InlineData("""{}""")]
    public async Task Names_out_of_pattern_are_400(string json)
    {
        var app = await herald.Admin.CreateApplicationAsync();
        var (status, problem, _) = await herald.Admin.PostAsync($"/api/v1/apps/{app}/event-types", json);
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.True(problem.GetProperty("errors").TryGetProperty("name", out _));
    }

    [Fact]
    public async Task Messages_must_use_a_registered_active_type_when_the_application_requires_it()
    {
        var app = await herald.Admin.CreateApplicationAsync(settings: new { name = "strict", requireRegisteredEventTypes = true });
        await herald.Admin.PostOkAsync($"/api/v1/apps/{app}/event-types", new { name = "invoice.paid" });
        await herald.Admin.PostOkAsync($"/api/v1/apps/{app}/event-types", new { name = "invoice.old" });
        await herald.Admin.DeleteAsync($"/api/v1/apps/{app}/event-types/invoice.old");

        Assert.Equal(HttpStatusCode.Accepted, (await herald.Admin.PostAsync($"/api/v1/apps/{app}/messages", new { eventType = "invoice.paid", payload = new { } })).Status);
        foreach (var type in new[] { "invoice.unknown", "invoice.old" })
        {
            var (status, problem, _) = await herald.Admin.PostAsync($"/api/v1/apps/{app}/messages", new { eventType = type, payload = new { } });
            Assert.Equal(HttpStatusCode.BadRequest, status);
            Assert.True(problem.GetProperty("errors").TryGetProperty("eventType", out _));
        }
    }
}
