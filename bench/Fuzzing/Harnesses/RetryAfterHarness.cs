using System.Net;
using System.Text;
using Herald.Deliveries;
using Herald.Processor.Delivery;
using Microsoft.Extensions.Options;

namespace Herald.Fuzzing.Harnesses;

/// <summary>
/// A receiver's <c>Retry-After</c> (delay-seconds or an HTTP date) on a 429 or 503, read the way delivery reads it:
/// <see cref="WebhookSender.SendAsync"/> against a receiver that answers with that header, then
/// <see cref="RetrySchedule.Decide"/>. Whatever the receiver writes, the next attempt lands within the schedule's
/// bounds (1 s to its longest delay) and the attempt never fails because of the header.
/// </summary>
public sealed class RetryAfterHarness : IHarness
{
    public string Name => "retry-after";

    public string Parses => "a receiver's Retry-After header on 429/503";

    private static readonly DateTimeOffset Now = new(2026, 11, 25, 12, 0, 0, TimeSpan.Zero);
    private static readonly DeliveryOptions Options = new();
    private static readonly RetrySchedule Schedule = new(Microsoft.Extensions.Options.Options.Create(Options));
    private static readonly EndpointTarget Endpoint = new("ep_fuzz", "app_fuzz", new Uri("https://receiver.example/hook"),
        ["whsec_" + Convert.ToBase64String(new byte[32])], new Dictionary<string, string>(), Schedule);
    private static readonly DeliveryTask Task = new("msg_fuzz", "ep_fuzz", "app_fuzz", "invoice.paid", "{}", Now, 1, Now);

    public void Run(ReadOnlySpan<byte> input)
    {
        // A header value reaches HttpClient as Latin-1; CR and LF end it, so none is ever inside one.
        var value = Encoding.Latin1.GetString(input);
        if (value.AsSpan().IndexOfAny('\r', '\n') is >= 0 and var end) value = value[..end];

        foreach (var status in (HttpStatusCode[])[HttpStatusCode.TooManyRequests, HttpStatusCode.ServiceUnavailable])
        {
            using var client = new HttpClient(new Receiver(status, value));
            var sender = new WebhookSender(client, Microsoft.Extensions.Options.Options.Create(Options), new FixedTime(Now));
            var attempt = sender.SendAsync(Endpoint, Task, CancellationToken.None).GetAwaiter().GetResult();
            InvariantBroken.Unless(attempt.HttpStatus == (int)status && attempt.Error is null, $"the attempt failed: {attempt.Error}");
            InvariantBroken.Unless(attempt.RetryAfter is null || attempt.RetryAfter >= TimeSpan.Zero, $"Retry-After read as {attempt.RetryAfter}");

            for (var number = 1; number < Schedule.Attempts; number++)
            {
                var decision = Schedule.Decide(number, attempt, Now);
                InvariantBroken.Unless(decision.Status == DeliveryStatus.Pending && decision.NextAttemptAt is { } next
                    && next >= Now && next <= Now + Schedule.Longest * (1 + Options.Jitter), $"'{value}' scheduled {decision}");
                if (attempt.RetryAfter is not null)
                    InvariantBroken.Unless(decision.NextAttemptAt >= Now + TimeSpan.FromSeconds(1), $"'{value}' retried within a second");
            }
        }
    }

    /// <summary>A receiver answering every webhook with one status and Retry-After value, without a socket.</summary>
    private sealed class Receiver(HttpStatusCode status, string retryAfter) : HttpMessageHandler
    {
        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            var response = new HttpResponseMessage(status) { Content = new StringContent("slow down"), RequestMessage = request };
            response.Headers.TryAddWithoutValidation("Retry-After", retryAfter);
            return System.Threading.Tasks.Task.FromResult(response);
        }
    }

    private sealed class FixedTime(DateTimeOffset now) : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => now;
    }
}
