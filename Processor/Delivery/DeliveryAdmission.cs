using Herald.Processor.Telemetry;
using Herald.ServiceDefaults.Redis;

namespace Herald.Processor.Delivery;

/// <summary>
/// Whether an attempt may go: first the endpoint's breaker (an open one defers the attempt), then, once the worker
/// holds every slot the attempt needs, the application's and the endpoint's deliveries per second (across every
/// replica). Counted last, right before the claim and the send, an attempt goes out in the second it was counted in:
/// a wait for a host's or an application's slots can never bunch admitted attempts into one second.
/// </summary>
public sealed class DeliveryAdmission(EndpointGate gate, RateLimitLeases rates, DeliveryTelemetry telemetry, TimeProvider time)
{
    public ValueTask<Admission> AdmitAsync(EndpointTarget endpoint) => gate.AdmitAsync(endpoint);

    /// <summary>
    /// Counts the attempt against its application's and its endpoint's rates now: null when both admit it, otherwise
    /// how long until a second that may. <paramref name="ticket"/> remembers an application admission across retries
    /// within its second, so an attempt the endpoint's rate held back does not take a second one.
    /// </summary>
    public async ValueTask<TimeSpan?> TryRatesAsync(EndpointTarget endpoint, RateTicket ticket)
    {
        var second = time.GetUtcNow().ToUnixTimeSeconds();
        if (endpoint.ApplicationRateLimit is > 0 and var applicationLimit && ticket.ApplicationSecond != second)
        {
            if (await rates.AcquireAsync(ApplicationRateKey(endpoint.ApplicationId), applicationLimit) is { } wait)
            {
                telemetry.Deferred(DeliveryTelemetry.DeferralReasons.ApplicationRateLimit);
                return wait;
            }
            ticket.ApplicationSecond = second;
        }
        return endpoint.RateLimit is > 0 and var limit ? await rates.AcquireAsync(EndpointRateKey(endpoint.Id), limit) : null;
    }

    private static string EndpointRateKey(string endpointId) => "endpoint-deliveries:" + endpointId;

    private static string ApplicationRateKey(string applicationId) => "application-deliveries:" + applicationId;
}

/// <summary>One attempt's admissions so far (see <see cref="DeliveryAdmission.TryRatesAsync"/>).</summary>
public sealed class RateTicket
{
    public long ApplicationSecond { get; set; } = -1;
}
