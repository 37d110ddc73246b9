using System.Diagnostics;
using System.Net.Http.Headers;
using Herald.Deliveries;
using Microsoft.Extensions.Options;

namespace Herald.Processor.Delivery;

/// <summary>One HTTP attempt as the receiver answered it. <see cref="RetryAfter"/> is the receiver's Retry-After, if any.</summary>
public sealed record Attempt(bool Succeeded, int? HttpStatus, TimeSpan Latency, string? ResponseBody, string? Error, TimeSpan? RetryAfter = null);

/// <summary>Sends one message to one endpoint as a Standard Webhooks signed POST.</summary>
public sealed class WebhookSender(HttpClient http, IOptions<DeliveryOptions> options, TimeProvider time)
{
    private const int ResponseBodyLimit = 4096;
    private readonly ProductInfoHeaderValue _userAgent = ProductInfoHeaderValue.Parse(options.Value.UserAgent);

    /// <param name="timestamp">The attempt's <c>webhook-timestamp</c>; unset: now.</param>
    public async Task<Attempt> SendAsync(EndpointTarget endpoint, DeliveryTask message, CancellationToken cancellationToken, DateTimeOffset? timestamp = null)
    {
        var body = message.Payload;
        var sentAt = timestamp ?? time.GetUtcNow();
        // One signature per active secret, so receivers mid-rotation verify with either.
        var signature = string.Join(' ', endpoint.Signers.Select(signer => signer.Sign(message.MessageId, sentAt, body)));

        using var request = new HttpRequestMessage(HttpMethod.Post, endpoint.Url)
        {
            Content = new StringContent(body, System.Text.Encoding.UTF8, "application/json"),
        };
        AddHeaders(request, endpoint.Headers);
        // webhook-id is the message id on every attempt, so receivers can deduplicate.
        request.Headers.Add("webhook-id", message.MessageId);
        request.Headers.Add("webhook-timestamp", sentAt.ToUnixTimeSeconds().ToString(System.Globalization.CultureInfo.InvariantCulture));
        request.Headers.Add("webhook-signature", signature);
        request.Headers.UserAgent.Add(_userAgent);

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(endpoint.Retries.Timeout);
        var started = Stopwatch.GetTimestamp();
        try
        {
            using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, timeout.Token);
            var responseBody = await ReadLimitedAsync(response.Content, timeout.Token);
            // Success is 2xx only; redirects are not followed, so a 3xx is a failed attempt.
            return new Attempt(response.IsSuccessStatusCode, (int)response.StatusCode,
                Stopwatch.GetElapsedTime(started), responseBody, null, RetryAfterOf(response, sentAt));
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return new Attempt(false, null, Stopwatch.GetElapsedTime(started), null, "timeout");
        }
        catch (HttpRequestException exception)
        {
            return new Attempt(false, null, Stopwatch.GetElapsedTime(started), null, AttemptError.Classify(exception));
        }
    }

    /// <summary>Adds an endpoint's own headers to its request, a content header (Content-Language, Expires, …) to the
    /// body's headers since the request's refuse it. Returns the names neither took (none, for headers the endpoint
    /// rules accept).</summary>
    public static IReadOnlyList<string> AddHeaders(HttpRequestMessage request, IReadOnlyDictionary<string, string> headers)
    {
        List<string>? refused = null;
        foreach (var (name, value) in headers)
        {
            if (request.Headers.TryAddWithoutValidation(name, value)) continue;
            if (request.Content?.Headers.TryAddWithoutValidation(name, value) == true) continue;
            (refused ??= []).Add(name);
        }
        return refused ?? [];
    }

    private static TimeSpan? RetryAfterOf(HttpResponseMessage response, DateTimeOffset now) => response.Headers.RetryAfter switch
    {
        { Delta: { } delta } => delta,
        { Date: { } date } => date > now ? date - now : TimeSpan.Zero,
        _ => null,
    };

    private static async Task<string> ReadLimitedAsync(HttpContent content, CancellationToken cancellationToken)
    {
        await using var stream = await content.ReadAsStreamAsync(cancellationToken);
        var buffer = new byte[ResponseBodyLimit];
        var read = 0;
        while (read < buffer.Length)
        {
            var n = await stream.ReadAsync(buffer.AsMemory(read), cancellationToken);
            if (n == 0) break;
            read += n;
        }
        // PostgreSQL text cannot hold NUL characters.
        return System.Text.Encoding.UTF8.GetString(buffer, 0, read).Replace("\0", "", StringComparison.Ordinal);
    }
}
