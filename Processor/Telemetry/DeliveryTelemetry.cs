using System.Diagnostics.Metrics;
using System.Diagnostics;
using Herald.Deliveries;
using Herald.Kafka;
using Herald.Processor.Delivery;
using Herald.ServiceDefaults.Telemetry;

namespace Herald.Processor.Telemetry;

/// <summary>
/// The Processor's instruments (meter <c>Herald.Processor</c>) and spans (source <c>Herald.Processor</c>), named so the
/// Prometheus exporter yields <c>herald_…_total</c> and <c>herald_…_seconds</c>. Labels are bounded: outcomes and
/// reasons from fixed vocabularies, and the application id on attempts (per install) — never a message, endpoint
/// URL or host.
/// </summary>
public sealed class DeliveryTelemetry
{
    public const string MeterName = "Herald.Processor";

    public static readonly ActivitySource Tracing = new(MeterName);

    /// <summary>The outcome label of an attempt, exactly one per attempt.</summary>
    public static class Outcomes
    {
        public const string Success = "success";
        /// <summary>Failed; a retry is scheduled.</summary>
        public const string FailedRetryable = "failed_retryable";
        /// <summary>Failed on the last attempt of the schedule: dead-lettered.</summary>
        public const string FailedFinal = "failed_final";
        /// <summary>Refused by the SSRF guard before connecting (error ssrf-blocked), whatever follows.</summary>
        public const string Blocked = "blocked";
        /// <summary>410 Gone: the endpoint is disabled and its deliveries paused.</summary>
        public const string Gone = "gone";
    }

    /// <summary>Why a task ended without an attempt; its delivery waits in PostgreSQL.</summary>
    public static class DeferralReasons
    {
        public const string BreakerOpen = "breaker_open";
        public const string EndpointBacklog = "endpoint_backlog";
        public const string EndpointDisabled = "endpoint_disabled";
        public const string ApplicationRateLimit = "application_rate_limit";
    }

    private readonly Counter<long> _attempts;
    private readonly Counter<long> _deferrals;
    private readonly Counter<long> _skipped;
    private readonly Counter<long> _rejected;
    private readonly Counter<long> _retries;
    private readonly Histogram<double> _httpDuration;
    private readonly Histogram<double> _endToEnd;
    private readonly Histogram<double> _consumeToDeliver;
    private readonly UpDownCounter<long> _inFlight;
    private readonly Counter<long> _fanoutMessages;
    private readonly Counter<long> _fanoutDeliveries;
    private readonly Counter<long> _autoDisabled;

    public DeliveryTelemetry(IMeterFactory meters)
    {
        var meter = meters.Create(MeterName);
        var seconds = new InstrumentAdvice<double> { HistogramBucketBoundaries = LatencyBuckets.Seconds };
        _attempts = meter.CreateCounter<long>("herald.delivery.attempts", "{attempt}",
            "Delivery attempts by outcome (success, failed_retryable, failed_final, blocked, gone) and application.");
        _deferrals = meter.CreateCounter<long>("herald.delivery.deferrals", "{task}",
            "Delivery tasks put back in PostgreSQL, or held back, without an attempt, by reason (breaker_open, endpoint_backlog, endpoint_disabled, application_rate_limit: held until the application's next second).");
        _skipped = meter.CreateCounter<long>("herald.delivery.tasks_skipped", "{task}",
            "Delivery tasks not sent because their attempt was already recorded (settled) or claimed by another Processor (claimed): redelivered or duplicate tasks.");
        _retries = meter.CreateCounter<long>("herald.delivery.retries_scheduled", "{retry}",
            "Retries scheduled after a failed attempt, by reason (failure, or retry_after when the receiver named the time).");
        _httpDuration = meter.CreateHistogram("herald.delivery.http.duration", "s",
            "Webhook POSTs from sending to the response's first 4 KiB (or the error), by outcome; SSRF-blocked attempts excluded.",
            advice: seconds);
        _endToEnd = meter.CreateHistogram("herald.delivery.end_to_end_lag", "s",
            "From a message's creation (its commit in the API) to its successful delivery to an endpoint; retried=true when it took more than one attempt.",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = LatencyBuckets.Lag });
        _consumeToDeliver = meter.CreateHistogram("herald.delivery.consume_to_deliver", "s",
            "From taking a task off herald.deliveries to its attempt being recorded: waiting for lanes, breaker, rate limit, the send and the ledger.",
            advice: seconds);
        _inFlight = meter.CreateUpDownCounter<long>("herald.deliveries.in_flight", "{task}",
            "Delivery tasks taken off Kafka and not yet finished by this Processor.");
        _fanoutMessages = meter.CreateCounter<long>("herald.fanout.messages", "{message}",
            "Messages consumed from herald.messages and fanned out.");
        _fanoutDeliveries = meter.CreateCounter<long>("herald.fanout.deliveries", "{delivery}",
            "Deliveries (message × subscribed endpoint) created by fan-out.");
        _rejected = meter.CreateCounter<long>("herald.records.rejected", "{record}",
            "Records on Herald's topics skipped because they do not carry a valid authentication by Herald's services (see README, Security), by topic.");
        _autoDisabled = meter.CreateCounter<long>("herald.endpoints.auto_disabled", "{endpoint}",
            "Endpoints the Processors disabled: 410 Gone, or failing without a success for Herald:Delivery:DisableAfter.");

        // Series with a fixed vocabulary exist from the start, so rate() and increase() see their first event.
        foreach (var reason in (string[])[DeferralReasons.BreakerOpen, DeferralReasons.EndpointBacklog, DeferralReasons.EndpointDisabled, DeferralReasons.ApplicationRateLimit])
            _deferrals.Add(0, new KeyValuePair<string, object?>("reason", reason));
        _skipped.Add(0, new KeyValuePair<string, object?>("reason", "settled"));
        _skipped.Add(0, new KeyValuePair<string, object?>("reason", "claimed"));
        _retries.Add(0, new KeyValuePair<string, object?>("reason", "failure"));
        _retries.Add(0, new KeyValuePair<string, object?>("reason", "retry_after"));
        _fanoutMessages.Add(0);
        _fanoutDeliveries.Add(0);
        _autoDisabled.Add(0);
        foreach (var topic in (string[])[Topics.Messages.Name, Topics.Deliveries.Name])
            _rejected.Add(0, new KeyValuePair<string, object?>("topic", topic));
        _inFlight.Add(0);
    }

    /// <summary>The consumer span of one delivery task, continuing the trace the task's record carries.</summary>
    public static Activity? StartDelivery(DeliveryTask task, ActivityContext parent)
    {
        var activity = Tracing.StartActivity("herald.deliveries process", ActivityKind.Consumer, parent);
        if (activity is { IsAllDataRequested: true })
        {
            activity.SetTag("messaging.system", "kafka");
            activity.SetTag("messaging.operation.type", "process");
            activity.SetTag("messaging.destination.name", Herald.Kafka.Topics.Deliveries.Name);
            activity.SetTag("herald.message.id", task.MessageId);
            activity.SetTag("herald.endpoint.id", task.EndpointId);
            activity.SetTag("herald.application.id", task.ApplicationId);
            activity.SetTag("herald.delivery.attempt", task.Attempt);
        }
        return activity;
    }

    /// <summary>Records one attempt: its outcome, timings, any retry it leads to, and tags the current span.</summary>
    /// <param name="sinceConsumed">Time since the task was taken off Kafka.</param>
    public void Attempted(DeliveryTask task, Attempt attempt, DeliveryDecision decision, TimeSpan sinceConsumed, DateTimeOffset now)
    {
        var outcome = OutcomeOf(attempt, decision);
        _attempts.Add(1, new KeyValuePair<string, object?>("outcome", outcome), new("application", task.ApplicationId));
        if (outcome != Outcomes.Blocked)
            _httpDuration.Record(attempt.Latency.TotalSeconds, new KeyValuePair<string, object?>("outcome", outcome));
        if (attempt.Succeeded)
        {
            // Retried deliveries wait by schedule, for minutes or hours: kept apart, they do not drown the latency SLO.
            _endToEnd.Record(Math.Max(0, (now - task.MessageCreatedAt).TotalSeconds),
                new KeyValuePair<string, object?>("retried", task.Attempt > 1 ? "true" : "false"));
        }
        _consumeToDeliver.Record(sinceConsumed.TotalSeconds);
        if (decision.Status == DeliveryStatus.Pending)
        {
            var asked = attempt.RetryAfter is not null && attempt.HttpStatus is 429 or 503;
            _retries.Add(1, new KeyValuePair<string, object?>("reason", asked ? "retry_after" : "failure"));
        }

        if (Activity.Current is { IsAllDataRequested: true } activity)
        {
            activity.SetTag("herald.delivery.outcome", outcome);
            activity.SetTag("herald.delivery.status", decision.Status);
            if (attempt.HttpStatus is { } status) activity.SetTag("http.response.status_code", status);
            if (attempt.Error is { } error) activity.SetTag("error.type", error);
            if (!attempt.Succeeded) activity.SetStatus(ActivityStatusCode.Error, attempt.Error ?? $"HTTP {attempt.HttpStatus}");
        }
    }

    public void Deferred(string reason)
    {
        _deferrals.Add(1, new KeyValuePair<string, object?>("reason", reason));
        Activity.Current?.SetTag("herald.delivery.deferred", reason);
    }

    /// <summary>A task whose attempt another Processor recorded or holds: not sent by this one.</summary>
    public void Skipped(ClaimOutcome outcome) =>
        _skipped.Add(1, new KeyValuePair<string, object?>("reason", outcome == ClaimOutcome.Settled ? "settled" : "claimed"));

    public void InFlight(int change) => _inFlight.Add(change);

    public void AutoDisabled() => _autoDisabled.Add(1);

    public void Rejected(string topic) => _rejected.Add(1, new KeyValuePair<string, object?>("topic", topic));

    public void FannedOut(int messages, int deliveries)
    {
        _fanoutMessages.Add(messages);
        _fanoutDeliveries.Add(deliveries);
    }

    public static string OutcomeOf(Attempt attempt, DeliveryDecision decision) => attempt switch
    {
        { Succeeded: true } => Outcomes.Success,
        { Error: AttemptError.SsrfBlocked } => Outcomes.Blocked,
        _ when decision.Status == DeliveryStatus.Paused => Outcomes.Gone,
        _ when decision.Status == DeliveryStatus.Failed => Outcomes.FailedFinal,
        _ => Outcomes.FailedRetryable,
    };
}
