using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Aspire.Hosting.Testing;
using Herald.Tests.Delivery;
using Herald.Tests.Harness;
using Xunit.Abstractions;

namespace Herald.Tests.Observability;

/// <summary>
/// Issue 5, "must show" 2: one message is one trace. The create-message request carries a <c>traceparent</c> the
/// test chose; every webhook attempt arrives with a <c>traceparent</c> (HttpClient's span in the Processor) of the same
/// trace. Getting there takes every hop — API request → Kafka produce (record headers) → fan-out consume → Kafka
/// produce of the delivery task → delivery consume → HTTP — and, for the retry, the trace stored with the message in
/// PostgreSQL → scheduler → Kafka → delivery.
/// </summary>
[Collection(HeraldAppCollection.Name)]
public sealed class TracingTests(HeraldAppFixture herald, ITestOutputHelper output)
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task Every_webhook_attempt_of_a_message_retries_included_continues_the_trace_of_its_api_request()
    {
        var app = await herald.Admin.CreateApplicationAsync("Traced");
        var url = herald.Receiver.UrlFor("traced-" + Guid.NewGuid().ToString("N"));
        await herald.Admin.CreateEndpointAsync(app, url);
        var calls = 0;
        herald.Receiver.ReplyAt(url, _ => Interlocked.Increment(ref calls) == 1 ? new Reply(500) : Reply.Ok);

        var traceId = ActivityTraceId.CreateRandom();
        var callerSpan = ActivitySpanId.CreateRandom();
        // A client of our own, so nothing but this header speaks for the trace.
        using var http = new HttpClient(new SocketsHttpHandler { ActivityHeadersPropagator = null }) { BaseAddress = herald.App.GetEndpoint("api", "http") };
        using var request = new HttpRequestMessage(HttpMethod.Post, $"/api/v1/apps/{app}/messages")
        {
            Content = JsonContent.Create(new { eventType = "invoice.paid", payload = new { n = 1 } }),
        };
        request.Headers.Authorization = new("Bearer", herald.AdminKey);
        request.Headers.Add("traceparent", $"00-{traceId}-{callerSpan}-01");
        using var response = await http.SendAsync(request);
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var messageId = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("id").GetString();

        // The first attempt fails (500); the second is the scheduler's retry, enqueued from PostgreSQL.
        var attempts = await herald.Receiver.WaitForRequestsAsync(url, 2, Patience);
        var parents = attempts.Select(attempt =>
        {
            Assert.Equal(messageId, attempt.MessageId);
            Assert.True(attempt.Headers.TryGetValue("traceparent", out var traceParent), "The webhook request carries no traceparent.");
            output.WriteLine($"attempt: traceparent {traceParent}");
            Assert.True(ActivityContext.TryParse(traceParent, null, out var context), traceParent);
            Assert.Equal(traceId, context.TraceId);
            return context.SpanId;
        }).ToList();
        Assert.Equal([500, 204], attempts.Select(a => a.Status));
        // Each attempt is a span of its own, under the API's spans rather than being the caller's span.
        Assert.Equal(2, parents.Distinct().Count());
        Assert.DoesNotContain(callerSpan, parents);
    }
}
