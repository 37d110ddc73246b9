using System.Net;
using System.Text.Json;
using System.Text.RegularExpressions;
using Deque.AxeCore.Playwright;
using Herald.Deliveries;
using Aspire.Hosting.Testing;
using Herald.Tests.Harness;
using Microsoft.Playwright;
using StandardWebhooks;
using static Microsoft.Playwright.Assertions;

namespace Herald.Tests.Portal;

/// <summary>
/// The consumer portal in a real browser (Debian's chromium through Playwright), against the running app: a customer
/// opens the link their provider made, manages endpoints, receives webhooks at the loopback receiver, and sees and
/// replays what failed. Screenshots of the main pages land in <see cref="PortalBrowser.ScreenshotDirectory"/>.
/// </summary>
[Collection(HeraldAppCollection.Name)]
public sealed partial class PortalBrowserTests(HeraldAppFixture herald, PortalBrowser browser) : IClassFixture<PortalBrowser>
{
    private static readonly TimeSpan DeliveryTimeout = TimeSpan.FromSeconds(30);

    private Uri Api => herald.App.GetEndpoint("api", "http");

    /// <summary>Opens the portal as a customer would: the link's URL, token in its fragment.</summary>
    private async Task<IPage> OpenPortalAsync(string app, bool readOnly = false, int width = 1280)
    {
        var link = await herald.Admin.PostOkAsync($"/api/v1/apps/{app}/portal-access", new { readOnly });
        var page = await browser.NewPageAsync(Api, width);
        await page.GotoAsync(link.GetProperty("url").GetString()!);
        await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Endpoints", Exact = true })).ToBeVisibleAsync();
        return page;
    }

    [Fact]
    public async Task A_customer_adds_an_endpoint_with_chosen_event_types_and_receives_a_signed_test_event_there_only()
    {
        var app = await herald.Admin.CreateApplicationAsync("Acme");
        await herald.Admin.PostOkAsync($"/api/v1/apps/{app}/event-types", new { name = "invoice.paid", description = "An invoice was paid." });
        await herald.Admin.PostOkAsync($"/api/v1/apps/{app}/event-types", new { name = "invoice.voided", description = "An invoice was voided." });
        var bystander = herald.Receiver.UrlFor("portal-bystander-" + Guid.NewGuid().ToString("N"));
        await herald.Admin.CreateEndpointAsync(app, bystander);
        var url = herald.Receiver.UrlFor("portal-new-" + Guid.NewGuid().ToString("N"));
        var page = await OpenPortalAsync(app);

        await page.GetByRole(AriaRole.Link, new() { Name = "Add endpoint" }).ClickAsync();
        await page.GetByLabel("URL").FillAsync(url.ToString());
        await page.GetByLabel("Description").FillAsync("Billing webhooks");
        await page.GetByLabel("Only the ones chosen below").CheckAsync();
        await page.GetByRole(AriaRole.Checkbox, new() { Name = "invoice.paid" }).CheckAsync();
        await page.GetByRole(AriaRole.Button, new() { Name = "Create" }).ClickAsync();
        await Expect(page.GetByRole(AriaRole.Status)).ToContainTextAsync("Endpoint created");
        var endpointId = EndpointInUrl().Match(page.Url).Groups[1].Value;

        var created = (await herald.Admin.GetAsync($"/api/v1/apps/{app}/endpoints/{endpointId}")).Body;
        Assert.Equal(url.ToString(), created.GetProperty("url").GetString());
        Assert.Equal(["invoice.paid"], created.GetProperty("eventTypes").EnumerateArray().Select(t => t.GetString()));
        Assert.Equal("Billing webhooks", created.GetProperty("description").GetString());

        await page.GetByRole(AriaRole.Button, new() { Name = "Reveal secret" }).ClickAsync();
        var secret = (await page.Locator("[data-secret]").TextContentAsync())!.Trim();
        Assert.StartsWith("whsec_", secret);

        await page.GetByRole(AriaRole.Button, new() { Name = "Send test event" }).ClickAsync();
        await Expect(page.GetByRole(AriaRole.Status)).ToContainTextAsync("Test event");
        var messageId = MessageInText().Match((await page.GetByRole(AriaRole.Status).TextContentAsync())!).Value;
        var webhook = await herald.Receiver.WaitForAsync(messageId, DeliveryTimeout, url.AbsolutePath);
        new StandardWebhook(secret).Verify(webhook.Body, webhook.HeaderDictionary());
        using (var body = JsonDocument.Parse(webhook.Body))
        {
            Assert.Equal("herald.test", body.RootElement.GetProperty("type").GetString());
            Assert.Equal(endpointId, body.RootElement.GetProperty("endpointId").GetString());
        }

        // The test event's attempt shows on the endpoint's page; the endpoint subscribed to everything never got it.
        await Expect(page.Locator($"tr[data-attempt]:has-text('{messageId}')")).ToBeVisibleAsync();
        await PortalBrowser.ScreenshotAsync(page, "endpoint");
        Assert.Empty(herald.Receiver.ReceivedAt(bystander));
        await page.GetByRole(AriaRole.Link, new() { Name = "Endpoints", Exact = true }).ClickAsync();
        await Expect(page.Locator($"tr[data-endpoint='{endpointId}']")).ToContainTextAsync("enabled");
        await PortalBrowser.ScreenshotAsync(page, "endpoints");
    }

    [Fact]
    public async Task A_failed_delivery_shows_its_attempts_in_the_log_and_is_resent_from_the_portal()
    {
        var app = await herald.Admin.CreateApplicationAsync("Acme");
        var url = herald.Receiver.UrlFor("portal-failing-" + Guid.NewGuid().ToString("N"));
        herald.Receiver.ReplyAt(url, new Reply(503, Body: """{"error":"warehouse system offline"}"""));
        var (endpointId, _) = await herald.Admin.CreateEndpointAsync(app, url);
        var messageId = await herald.Admin.SendMessageAsync(app, "order.shipped", new { order = "ord_42", carrier = "DHL" });
        Assert.True(await Eventually.HoldsAsync(async () =>
            (await herald.Admin.GetAsync($"/api/v1/apps/{app}/messages/{messageId}/deliveries")).Body.GetProperty("data")
                .EnumerateArray().Any(d => d.GetProperty("status").GetString() == DeliveryStatus.Failed), DeliveryTimeout),
            "The delivery never ran out of attempts.");

        var page = await OpenPortalAsync(app);
        await page.GetByRole(AriaRole.Link, new() { Name = "Messages", Exact = true }).ClickAsync();
        await page.GetByLabel("Delivery status").SelectOptionAsync(DeliveryStatus.Failed);
        await page.GetByRole(AriaRole.Button, new() { Name = "Filter" }).ClickAsync();
        await Expect(page.Locator($"tr[data-message='{messageId}']")).ToContainTextAsync("order.shipped");
        await PortalBrowser.ScreenshotAsync(page, "messages");

        await page.GetByRole(AriaRole.Link, new() { Name = messageId }).ClickAsync();
        await Expect(page.Locator("[data-payload]")).ToContainTextAsync("ord_42");
        await Expect(page.Locator($"tr[data-delivery='{endpointId}']")).ToContainTextAsync(DeliveryStatus.Failed);
        var attempts = page.Locator("details[data-attempt]");
        Assert.Equal(4, await attempts.CountAsync()); // the fixture's schedule: 0s 1s 2s 4s
        await Expect(attempts.First).ToContainTextAsync("HTTP 503");
        await Expect(attempts.First.Locator("[data-response]")).ToContainTextAsync("warehouse system offline");
        await PortalBrowser.ScreenshotAsync(page, "attempt");

        herald.Receiver.ReplyAt(url, Reply.Ok);
        await page.GetByRole(AriaRole.Button, new() { Name = "Resend" }).ClickAsync();
        await Expect(page.GetByRole(AriaRole.Status)).ToContainTextAsync("Resent");
        Assert.True(await Eventually.HoldsAsync(() => Task.FromResult(herald.Receiver.ReceivedFor(messageId).Any(w => w.Status == 204)), DeliveryTimeout),
            "The resent message did not arrive.");
        Assert.True(await Eventually.HoldsAsync(async () =>
        {
            await page.ReloadAsync();
            return (await page.Locator($"tr[data-delivery='{endpointId}']").TextContentAsync())!.Contains(DeliveryStatus.Succeeded);
        }, DeliveryTimeout), "The portal never showed the resent delivery as succeeded.");
        await Expect(page.Locator("details[data-attempt]")).ToHaveCountAsync(5);

        // Erasure: the payload and the receiver's replies go; the record of what happened stays.
        await page.GetByRole(AriaRole.Link, new() { Name = "Erase content…" }).ClickAsync();
        await page.GetByRole(AriaRole.Button, new() { Name = "Erase content" }).ClickAsync();
        await Expect(page.GetByRole(AriaRole.Status)).ToContainTextAsync("Content erased");
        await Expect(page.GetByText("The payload was expunged")).ToBeVisibleAsync();
        await Expect(page.Locator("[data-payload]")).ToHaveCountAsync(0);
        await Expect(page.Locator("details[data-attempt]")).ToHaveCountAsync(5);
        Assert.DoesNotContain("warehouse system offline", await page.ContentAsync(), StringComparison.Ordinal);
        await Expect(page.GetByRole(AriaRole.Button, new() { Name = "Resend" })).ToHaveCountAsync(0);
        await Expect(page.GetByRole(AriaRole.Link, new() { Name = "Erase content…" })).ToHaveCountAsync(0);
        var (_, expunged, _) = await herald.Admin.GetAsync($"/api/v1/apps/{app}/messages/{messageId}");
        Assert.Equal(JsonValueKind.String, expunged.GetProperty("expungedAt").ValueKind);
    }

    [Fact]
    public async Task Rotating_the_secret_in_the_portal_signs_later_webhooks_with_the_new_secret()
    {
        var app = await herald.Admin.CreateApplicationAsync("Acme");
        var url = herald.Receiver.UrlFor("portal-rotate-" + Guid.NewGuid().ToString("N"));
        var (endpointId, oldSecret) = await herald.Admin.CreateEndpointAsync(app, url);
        var page = await OpenPortalAsync(app);
        await page.GotoAsync($"/portal/endpoints/{endpointId}");

        await page.GetByRole(AriaRole.Button, new() { Name = "Rotate secret" }).ClickAsync();
        await Expect(page.GetByRole(AriaRole.Status)).ToContainTextAsync("Secret rotated");
        var newSecret = (await page.Locator("[data-secret]").TextContentAsync())!.Trim();
        Assert.StartsWith("whsec_", newSecret);
        Assert.NotEqual(oldSecret, newSecret);
        Assert.Equal(newSecret, (await herald.Admin.GetAsync($"/api/v1/apps/{app}/endpoints/{endpointId}/secret")).Body.GetProperty("key").GetString());

        var messageId = await herald.Admin.SendMessageAsync(app, "invoice.paid", new { invoice = "in_9" });
        var webhook = await herald.Receiver.WaitForAsync(messageId, DeliveryTimeout, url.AbsolutePath);
        // Newest first: the .NET verifier checks only the first signature, the new secret's.
        new StandardWebhook(newSecret).Verify(webhook.Body, webhook.HeaderDictionary());
        Assert.Equal(2, webhook.Headers["webhook-signature"].Split(' ').Length);
    }

    [Fact]
    public async Task A_fifo_endpoint_shows_what_holds_its_line_and_an_edit_in_the_portal_keeps_its_delivery_settings()
    {
        var app = await herald.Admin.CreateApplicationAsync("Acme");
        var url = herald.Receiver.UrlFor("portal-fifo-" + Guid.NewGuid().ToString("N"));
        herald.Receiver.ReplyAt(url, new Reply(503));
        var endpointId = (await herald.Admin.PostOkAsync($"/api/v1/apps/{app}/endpoints", new
        {
            url, ordering = "fifo", channels = new[] { "billing" }, filter = new { amount = new { gte = 1 } },
            retryPolicy = new { delays = new[] { "1s" }, maxAttempts = 20 },
        })).GetProperty("id").GetString()!;
        var head = await herald.Admin.PostOkAsync($"/api/v1/apps/{app}/messages",
            new { eventType = "invoice.paid", payload = new { amount = new { gte = 1 } }, channels = new[] { "billing" } }, HttpStatusCode.Accepted);
        var headId = head.GetProperty("id").GetString()!;
        await herald.Receiver.WaitForAsync(headId, DeliveryTimeout, url.AbsolutePath);

        var page = await OpenPortalAsync(app);
        await page.GotoAsync($"/portal/endpoints/{endpointId}");
        await Expect(page.Locator("dl.facts").First).ToContainTextAsync("one at a time, in the order they were sent");
        await Expect(page.Locator("dl.facts").First).ToContainTextAsync("billing");
        await Expect(page.Locator($"[data-blocked-by='{headId}']")).ToContainTextAsync("HTTP 503");

        await page.GotoAsync($"/portal/endpoints/{endpointId}/edit");
        await page.GetByLabel("Description").FillAsync("Edited in the portal");
        await page.GetByRole(AriaRole.Button, new() { Name = "Save" }).ClickAsync();
        await Expect(page.GetByRole(AriaRole.Status)).ToBeVisibleAsync();
        var edited = (await herald.Admin.GetAsync($"/api/v1/apps/{app}/endpoints/{endpointId}")).Body;
        Assert.Equal("Edited in the portal", edited.GetProperty("description").GetString());
        Assert.Equal("fifo", edited.GetProperty("ordering").GetString());
        Assert.Equal(["billing"], edited.GetProperty("channels").EnumerateArray().Select(c => c.GetString()));
        Assert.Equal(1, edited.GetProperty("filter").GetProperty("amount").GetProperty("gte").GetInt32());
        Assert.Equal(20, edited.GetProperty("retryPolicy").GetProperty("maxAttempts").GetInt32());
    }

    [Fact]
    public async Task New_attempts_appear_in_the_log_without_a_reload()
    {
        var app = await herald.Admin.CreateApplicationAsync("Acme");
        await herald.Admin.CreateEndpointAsync(app, herald.Receiver.UrlFor("portal-live-" + Guid.NewGuid().ToString("N")));
        var page = await OpenPortalAsync(app);
        var subscribed = page.WaitForResponseAsync(response => response.Url.Contains("/portal/live"));
        await page.GetByRole(AriaRole.Link, new() { Name = "Messages", Exact = true }).ClickAsync();
        Assert.Equal((int)HttpStatusCode.OK, (await subscribed).Status);

        var messageId = await herald.Admin.SendMessageAsync(app, "invoice.paid", new { invoice = "in_live" });
        await Expect(page.Locator($"tr[data-attempt]:has-text('{messageId}')")).ToContainTextAsync(DeliveryStatus.Succeeded);
        // It arrived by the stream: the page was not loaded again, so the message list above does not have it yet.
        await Expect(page.Locator($"tr[data-message='{messageId}']")).ToHaveCountAsync(0);
    }

    [Fact]
    public async Task Another_applications_data_is_unreachable_and_a_revoked_link_ends_the_session_in_the_browser()
    {
        var app = await herald.Admin.CreateApplicationAsync("Acme");
        var other = await herald.Admin.CreateApplicationAsync("Globex");
        var (theirs, _) = await herald.Admin.CreateEndpointAsync(other, herald.Receiver.UrlFor("portal-globex-" + Guid.NewGuid().ToString("N")));
        var link = await herald.Admin.PostOkAsync($"/api/v1/apps/{app}/portal-access", new { });
        var page = await browser.NewPageAsync(Api);
        await page.GotoAsync(link.GetProperty("url").GetString()!);
        // The token left the address bar once used.
        Assert.DoesNotContain("token", page.Url);

        await page.GotoAsync($"/portal/endpoints/{theirs}");
        await Expect(page.GetByRole(AriaRole.Alert)).ToContainTextAsync("does not exist in this portal");
        await Expect(page.Locator("body")).Not.ToContainTextAsync("portal-globex");

        await herald.Admin.DeleteAsync($"/api/v1/apps/{app}/portal-access/{link.GetProperty("id").GetString()}");
        await page.GotoAsync("/portal/endpoints");
        await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Portal link needed" })).ToBeVisibleAsync();
        await page.GotoAsync(link.GetProperty("url").GetString()!);
        await Expect(page.Locator("main")).ToContainTextAsync("This portal link is not valid");
    }

    [Fact]
    public async Task The_event_types_page_shows_each_types_description_schema_pretty_printed_and_examples()
    {
        var app = await herald.Admin.CreateApplicationAsync("Acme");
        await herald.Admin.PostOkAsync($"/api/v1/apps/{app}/event-types", new
        {
            name = "invoice.paid",
            description = "An invoice was paid.",
            schema = new { type = "object", required = new[] { "invoice" }, properties = new { invoice = new { type = "string" } } },
            examples = new object[] { new { invoice = "in_example_1" }, new { invoice = "in_example_2" } },
        });
        await herald.Admin.PostOkAsync($"/api/v1/apps/{app}/event-types", new { name = "invoice.voided", description = "An invoice was voided." });
        var page = await OpenPortalAsync(app);

        await page.GetByRole(AriaRole.Navigation, new() { Name = "Portal" }).GetByRole(AriaRole.Link, new() { Name = "Event types" }).ClickAsync();
        await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Event types", Exact = true })).ToBeVisibleAsync();
        var paid = page.Locator("[data-event-type='invoice.paid']");
        await Expect(paid.GetByRole(AriaRole.Heading, new() { Name = "invoice.paid" })).ToBeVisibleAsync();
        await Expect(paid).ToContainTextAsync("An invoice was paid.");
        // Pretty-printed: one property per line, indented.
        var schema = (await paid.Locator("pre[data-schema]").TextContentAsync())!;
        Assert.Contains("\n  \"type\": \"object\",", schema);
        Assert.Contains("\"required\": [\n    \"invoice\"\n  ]", schema);
        await Expect(paid.Locator("pre[data-example]")).ToHaveCountAsync(2);
        await Expect(paid.Locator("pre[data-example]").Nth(1)).ToContainTextAsync("\"invoice\": \"in_example_2\"");
        var voided = page.Locator("[data-event-type='invoice.voided']");
        await Expect(voided).ToContainTextAsync("No schema");
        await Expect(voided.Locator("pre")).ToHaveCountAsync(0);

        var serious = (await page.RunAxe()).Violations.Where(v => v.Impact is "serious" or "critical").Select(v => v.Id).ToList();
        Assert.Empty(serious);
        await PortalBrowser.ScreenshotAsync(page, "event-types");
    }

    [Fact]
    public async Task Every_page_fits_a_360_px_screen_and_has_no_serious_accessibility_violation()
    {
        var app = await herald.Admin.CreateApplicationAsync("Acme");
        // With a schema and an example, so the event types page is checked with what makes it longest and widest.
        await herald.Admin.PostOkAsync($"/api/v1/apps/{app}/event-types", new
        {
            name = "invoice.paid",
            description = "An invoice was paid.",
            schema = new { type = "object", properties = new { invoice = new { type = "string", description = "a long description of the invoice identifier field that wraps" } } },
            examples = new[] { new { invoice = "in_a11y_with_a_rather_long_identifier_that_must_wrap_on_a_narrow_screen" } },
        });
        var (endpointId, _) = await herald.Admin.CreateEndpointAsync(app, herald.Receiver.UrlFor("portal-a11y-" + Guid.NewGuid().ToString("N")));
        var messageId = await herald.Admin.SendMessageAsync(app, "invoice.paid", new { invoice = "in_a11y", lines = new[] { "a very long line item description that would push a narrow layout sideways" } });
        await herald.Receiver.WaitForAsync(messageId, DeliveryTimeout);

        foreach (var width in new[] { 360, 1280 })
        {
            var page = await OpenPortalAsync(app, width: width);
            foreach (var path in new[] { "/portal/endpoints", "/portal/endpoints/new", $"/portal/endpoints/{endpointId}", $"/portal/endpoints/{endpointId}/edit",
                         "/portal/messages", $"/portal/messages/{messageId}", "/portal/event-types" })
            {
                await page.GotoAsync(path);
                var overflow = await page.EvaluateAsync<int>("document.documentElement.scrollWidth - document.documentElement.clientWidth");
                Assert.True(overflow <= 0, $"{path} at {width} px is {overflow} px wider than the screen.");
                var serious = (await page.RunAxe()).Violations.Where(v => v.Impact is "serious" or "critical")
                    .Select(v => $"{v.Id}: {v.Help} ({string.Join(", ", v.Nodes.Select(n => n.Html))})").ToList();
                Assert.True(serious.Count == 0, $"{path} at {width} px: {string.Join("; ", serious)}");
            }
            if (width == 360) await PortalBrowser.ScreenshotAsync(page, "messages-360");
        }
    }

    [GeneratedRegex("/portal/endpoints/(ep_[0-9A-Z]+)")]
    private static partial Regex EndpointInUrl();

    [GeneratedRegex("msg_[0-9A-Z]+")]
    private static partial Regex MessageInText();
}
