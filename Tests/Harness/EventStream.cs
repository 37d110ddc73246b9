using System.Net;
using System.Net.ServerSentEvents;
using System.Text.Json;
using Herald.Deliveries;

namespace Herald.Tests.Harness;

/// <summary>A server-sent event stream read with the BCL's own parser, so the wire format is checked by code that is
/// not Herald's.</summary>
public sealed class EventStream : IAsyncDisposable
{
    private readonly HttpResponseMessage _response;
    private readonly IAsyncEnumerator<SseItem<string>> _events;

    private EventStream(HttpResponseMessage response, Stream body, CancellationToken cancellationToken)
    {
        _response = response;
        _events = SseParser.Create(body).EnumerateAsync(cancellationToken).GetAsyncEnumerator(cancellationToken);
    }

    public HttpResponseMessage Response => _response;

    /// <summary>GETs <paramref name="path"/> and returns once the response headers have arrived (for Herald's delivery
    /// stream: once the subscription is live). A non-200 answer is returned as is, with no stream.</summary>
    public static async Task<(HttpStatusCode Status, EventStream? Stream)> OpenAsync(HttpClient http, string path, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, path);
        request.Headers.Accept.ParseAdd("text/event-stream");
        var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
        if (response.StatusCode != HttpStatusCode.OK)
        {
            response.Dispose();
            return (response.StatusCode, null);
        }
        return (response.StatusCode, new EventStream(response, await response.Content.ReadAsStreamAsync(cancellationToken), cancellationToken));
    }

    public async Task<SseItem<string>> NextAsync()
    {
        Assert.True(await _events.MoveNextAsync(), "The event stream ended.");
        return _events.Current;
    }

    /// <summary>Delivery outcomes, checked for event name and id, until (and with) the one with attempt id <paramref name="last"/>.</summary>
    public Task<List<DeliveryOutcome>> OutcomesUntilAsync(string last) => OutcomesUntilAsync(o => o.AttemptId == last);

    /// <summary>Delivery outcomes until (and with) the first attempt of message <paramref name="messageId"/>.</summary>
    public Task<List<DeliveryOutcome>> OutcomesUntilAttemptOfAsync(string messageId) => OutcomesUntilAsync(o => o.MessageId == messageId);

    private async Task<List<DeliveryOutcome>> OutcomesUntilAsync(Func<DeliveryOutcome, bool> last)
    {
        var outcomes = new List<DeliveryOutcome>();
        while (outcomes.Count == 0 || !last(outcomes[^1]))
        {
            var item = await NextAsync();
            Assert.Equal("delivery", item.EventType);
            var outcome = JsonSerializer.Deserialize<DeliveryOutcome>(item.Data, JsonSerializerOptions.Web)!;
            Assert.Equal(outcome.AttemptId, item.EventId);
            outcomes.Add(outcome);
        }
        return outcomes;
    }

    public async ValueTask DisposeAsync()
    {
        _response.Dispose();
        try
        {
            await _events.DisposeAsync();
        }
        catch (Exception exception) when (exception is IOException or OperationCanceledException or ObjectDisposedException)
        {
            // The connection was closed under the parser on purpose.
        }
    }
}
