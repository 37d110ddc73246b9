using Herald.Processor.Telemetry;
using Herald.ServiceDefaults.Redis;

namespace Herald.Processor.Delivery;

/// <summary>
/// Whether an attempt may go now: the application's deliveries per second (across all its endpoints and every
/// replica), then the endpoint's breaker, then the endpoint's own deliveries per second. Over a rate, the attempt waits
/// in its lanes for the next second; an open breaker defers it.
/// </summary>
public sealed class DeliveryAdmission(EndpointGate gate, RateLimitLeases rates, DeliveryTelemetry telemetry, TimeProvider time)
{
    public async Task<Admission> AdmitAsync(EndpointTarget endpoint)
    {
        await WithinRateAsync(ApplicationRateKey(endpoint.ApplicationId), endpoint.ApplicationRateLimit, DeliveryTelemetry.DeferralReasons.ApplicationRateLimit);
        var admission = await gate.AdmitAsync(endpoint);
        // Over the endpoint's rate: wait in its own lane for the next second; no other endpoint notices.
        if (admission.Allowed) await WithinRateAsync(EndpointRateKey(endpoint.Id), endpoint.RateLimit, reason: null);
        return admission;
    }

    /// <summary>Waits until the key's per-second count (shared by every replica through Redis) admits one more.</summary>
    private async Task WithinRateAsync(string key, int? limit, string? reason)
    {
        while (limit is > 0 && await rates.AcquireAsync(key, limit.Value) is { } wait)
        {
            if (reason is not null) telemetry.Deferred(reason);
            await Task.Delay(wait, time);
        }
    }

    private static string EndpointRateKey(string endpointId) => "endpoint-deliveries:" + endpointId;

    private static string ApplicationRateKey(string applicationId) => "application-deliveries:" + applicationId;
}
