using System.Net;
using System.Text.Json;
using Grpc.Core;
using Herald.Grpc.V1;
using Aspire.Hosting.Testing;
using Herald.Tests.Harness;

namespace Herald.Tests.Portal;

/// <summary>Portal links: who can ask for one, what its token opens (one application's portal, nothing else), and how
/// it ends (expiry, revocation).</summary>
[Collection(HeraldAppCollection.Name)]
public sealed class PortalAccessTests(HeraldAppFixture herald)
{
    private Uri Api => herald.App.GetEndpoint("api", "http");

    private async Task<JsonElement> CreateLinkAsync(RestClient client, string app, object? body = null) =>
        await client.PostOkAsync($"/api/v1/apps/{app}/portal-access", body ?? new { });

    [Fact]
    public async Task An_application_key_gets_a_link_whose_token_starts_a_session_for_that_application_only()
    {
        var app = await herald.Admin.CreateApplicationAsync();
        var other = await herald.Admin.CreateApplicationAsync("Other");
        var (mine, _) = await herald.Admin.CreateEndpointAsync(app, herald.Receiver.UrlFor("portal-mine-" + Guid.NewGuid().ToString("N")));
        var (theirs, _) = await herald.Admin.CreateEndpointAsync(other, herald.Receiver.UrlFor("portal-theirs-" + Guid.NewGuid().ToString("N")));
        var theirMessage = await herald.Admin.SendMessageAsync(other, "invoice.paid", new { secret = "theirs" });
        using var tenant = herald.Client(await herald.Admin.CreateApplicationKeyAsync(app));

        var link = await CreateLinkAsync(tenant, app);
        var token = link.GetProperty("token").GetString()!;
        Assert.Matches("^hk_portal_[A-Za-z0-9_-]{43}$", token);
        Assert.Equal($"{Api.ToString().TrimEnd('/')}/portal/access#token={token}", link.GetProperty("url").GetString());
        var expiresIn = link.GetProperty("expiresAt").GetDateTimeOffset() - link.GetProperty("createdAt").GetDateTimeOffset();
        Assert.Equal(TimeSpan.FromHours(1), expiresIn);

        // Another tenant's key cannot ask for a link to this application: as if it did not exist.
        using var stranger = herald.Client(await herald.Admin.CreateApplicationKeyAsync(other));
        Assert.Equal(HttpStatusCode.NotFound, (await stranger.PostAsync($"/api/v1/apps/{app}/portal-access", new { })).Status);

        var (session, location) = await PortalSession.StartAsync(Api, token);
        using (session)
        {
            Assert.Equal("/portal/endpoints", location);
            var (status, list, _) = await session.GetAsync("/portal/endpoints");
            Assert.Equal(HttpStatusCode.OK, status);
            Assert.Contains(mine, list);
            Assert.DoesNotContain(theirs, list);

            // Another application's endpoint and message are "not found" in the portal as in the API.
            var (endpointStatus, endpointPage, _) = await session.GetAsync($"/portal/endpoints/{theirs}");
            Assert.Equal(HttpStatusCode.NotFound, endpointStatus);
            Assert.Contains("does not exist in this portal", endpointPage);
            var (messageStatus, messagePage, _) = await session.GetAsync($"/portal/messages/{theirMessage}");
            Assert.Equal(HttpStatusCode.NotFound, messageStatus);
            Assert.DoesNotContain("theirs", messagePage);

            // The session opens the portal and nothing else: the API does not take its cookie.
            Assert.Equal(HttpStatusCode.Unauthorized, (await session.Http.GetAsync($"/api/v1/apps/{app}/endpoints")).StatusCode);
        }

        // Nor the token itself, as an API key.
        using var withToken = herald.Client(token);
        Assert.Equal(HttpStatusCode.Unauthorized, (await withToken.GetAsync($"/api/v1/apps/{app}/endpoints")).Status);
    }

    [Fact]
    public async Task Revoking_a_link_ends_its_sessions_and_refuses_its_token()
    {
        var app = await herald.Admin.CreateApplicationAsync();
        var link = await CreateLinkAsync(herald.Admin, app);
        var (session, _) = await PortalSession.StartAsync(Api, link.GetProperty("token").GetString()!);
        using (session)
        {
            Assert.Equal(HttpStatusCode.OK, (await session.GetAsync("/portal/endpoints")).Status);
            var listed = (await herald.Admin.GetAsync($"/api/v1/apps/{app}/portal-access")).Body.GetProperty("data");
            Assert.Equal(link.GetProperty("id").GetString(), Assert.Single(listed.EnumerateArray()).GetProperty("id").GetString());

            var (revoked, _, _) = await herald.Admin.DeleteAsync($"/api/v1/apps/{app}/portal-access/{link.GetProperty("id").GetString()}");
            Assert.Equal(HttpStatusCode.NoContent, revoked);

            // This replica forgets at once; another would within seconds (the revocation is cached that long).
            Assert.True(await Eventually.HoldsAsync(async () => (await session.GetAsync("/portal/endpoints")).Location?.StartsWith("/portal/signed-out") == true,
                TimeSpan.FromSeconds(15)), "The revoked link's session still opens the portal.");
        }
        var (_, again) = await PortalSession.StartAsync(Api, link.GetProperty("token").GetString()!);
        Assert.Equal("/portal/signed-out?reason=invalid", again);
    }

    [Fact]
    public async Task An_expired_link_starts_no_session_and_expiry_is_bounded()
    {
        var app = await herald.Admin.CreateApplicationAsync();
        Assert.Equal(HttpStatusCode.BadRequest, (await herald.Admin.PostAsync($"/api/v1/apps/{app}/portal-access", new { expiry = 59 })).Status);
        Assert.Equal(HttpStatusCode.BadRequest, (await herald.Admin.PostAsync($"/api/v1/apps/{app}/portal-access", new { expiry = 604_801 })).Status);
        Assert.Equal(HttpStatusCode.BadRequest, (await herald.Admin.PostAsync($"/api/v1/apps/{app}/portal-access", "{\"expiry\":\"soon\"}")).Status);

        var link = await CreateLinkAsync(herald.Admin, app, new { expiry = 60 });
        // The clock is not moved: the link's expiry is, to a second ago.
        await using (var database = await herald.OpenDatabaseAsync())
        await using (var expire = new Npgsql.NpgsqlCommand("UPDATE portal_access SET expires_at = now() - interval '1 second' WHERE id = $1", database))
        {
            expire.Parameters.Add(new() { Value = link.GetProperty("id").GetString() });
            Assert.Equal(1, await expire.ExecuteNonQueryAsync());
        }
        var (session, location) = await PortalSession.StartAsync(Api, link.GetProperty("token").GetString()!);
        session.Dispose();
        Assert.Equal("/portal/signed-out?reason=invalid", location);
        // Nor does anything shaped like a token, nor a page without a session.
        var (guess, guessed) = await PortalSession.StartAsync(Api, "hk_portal_" + new string('A', 43));
        Assert.Equal("/portal/signed-out?reason=invalid", guessed);
        Assert.StartsWith("/portal/signed-out", (await guess.GetAsync("/portal/messages")).Location);
        guess.Dispose();
    }

    [Fact]
    public async Task A_read_only_session_sees_the_application_but_changes_nothing()
    {
        var app = await herald.Admin.CreateApplicationAsync();
        var (endpoint, _) = await herald.Admin.CreateEndpointAsync(app, herald.Receiver.UrlFor("portal-ro-" + Guid.NewGuid().ToString("N")));
        var link = await CreateLinkAsync(herald.Admin, app, new { readOnly = true });
        Assert.True(link.GetProperty("readOnly").GetBoolean());
        var (session, _) = await PortalSession.StartAsync(Api, link.GetProperty("token").GetString()!);
        using (session)
        {
            var (status, page, _) = await session.GetAsync($"/portal/endpoints/{endpoint}");
            Assert.Equal(HttpStatusCode.OK, status);
            Assert.Contains("read-only", page);
            Assert.DoesNotContain("Reveal secret", page);
            Assert.DoesNotContain("Send test event", page);
            Assert.DoesNotContain("Add endpoint", (await session.GetAsync("/portal/endpoints")).Body);
            // The pages that only change things refuse, as the application layer does (403), whatever the page shows.
            var (newStatus, newPage, _) = await session.GetAsync("/portal/endpoints/new");
            Assert.Equal(HttpStatusCode.OK, newStatus);
            var form = new FormUrlEncodedContent([new("_handler", "create-endpoint"), new("url", "https://example.com/ro"), new("scope", "all"),
                new("__RequestVerificationToken", AntiforgeryToken(newPage))]);
            using var post = await session.Http.PostAsync("/portal/endpoints/new", form);
            Assert.Equal(HttpStatusCode.Forbidden, post.StatusCode);
            Assert.Contains("This access is read-only.", await post.Content.ReadAsStringAsync());
        }
        Assert.Single((await herald.Admin.GetAsync($"/api/v1/apps/{app}/endpoints")).Body.GetProperty("data").EnumerateArray());
    }

    [Fact]
    public async Task Links_are_issued_listed_and_revoked_over_gRPC_too()
    {
        var app = await herald.Admin.CreateApplicationAsync();
        var client = new PortalAccess.PortalAccessClient(herald.Grpc);
        var auth = HeraldAppFixture.Bearer(herald.AdminKey);
        var created = await client.CreateAsync(new CreatePortalAccessRequest { AppId = app, ExpirySeconds = 600, ReadOnly = true }, auth);
        Assert.StartsWith("/portal/access#token=hk_portal_", created.Url);
        Assert.True(created.Access.ReadOnly);
        Assert.Equal(TimeSpan.FromMinutes(10), created.Access.ExpiresAt.ToDateTimeOffset() - created.Access.CreatedAt.ToDateTimeOffset());

        var listed = await client.ListAsync(new ListPortalAccessRequest { AppId = app }, auth);
        Assert.Equal(created.Access.Id, Assert.Single(listed.Data).Id);
        await client.RevokeAsync(new PortalAccessRef { AppId = app, AccessId = created.Access.Id }, auth);
        Assert.NotNull((await client.ListAsync(new ListPortalAccessRequest { AppId = app }, auth)).Data[0].RevokedAt);

        var invalid = await Assert.ThrowsAsync<RpcException>(async () =>
            await client.CreateAsync(new CreatePortalAccessRequest { AppId = app, ExpirySeconds = 1 }, auth));
        Assert.Equal(StatusCode.InvalidArgument, invalid.StatusCode);
        var missing = await Assert.ThrowsAsync<RpcException>(async () =>
            await client.RevokeAsync(new PortalAccessRef { AppId = app, AccessId = "pa_missing" }, auth));
        Assert.Equal(StatusCode.NotFound, missing.StatusCode);
    }

    private static string AntiforgeryToken(string page) =>
        System.Text.RegularExpressions.Regex.Match(page, "name=\"__RequestVerificationToken\" value=\"([^\"]+)\"").Groups[1].Value;
}
