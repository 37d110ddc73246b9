namespace Herald.ApiService.Messages;

/// <summary>Configuration section <c>Herald:Messages</c>.</summary>
public sealed class MessageOptions
{
    public const string Section = "Herald:Messages";

    /// <summary>Room for eventType, eventId and JSON framing around a payload of the maximum size.</summary>
    public const int EnvelopeAllowance = 16 * 1024;

    /// <summary>The largest payload accepted, in bytes of its JSON text.</summary>
    public int MaxPayloadBytes { get; set; } = 256 * 1024;

    /// <summary>How long payloads are kept; afterwards the message remains, without its payload. Also the longest
    /// retention a message may ask for itself.</summary>
    public TimeSpan PayloadRetention { get; set; } = TimeSpan.FromDays(30);

    /// <summary>The shortest retention a message may ask for (create-message's <c>retention</c>): shorter would expire
    /// a payload before its retries (hours apart) had run.</summary>
    public static readonly TimeSpan MinRetention = TimeSpan.FromHours(1);

    /// <summary>How often each API replica runs the retention pass.</summary>
    public TimeSpan RetentionInterval { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>The most messages committed in one transaction (group commit).</summary>
    public int MaxBatchSize { get; set; } = 512;

    /// <summary>Transactions in flight at once; each takes what queued up while the others committed.</summary>
    public int Writers { get; set; } = 2;

    /// <summary>How long create-message waits for its commit before answering 503 (PostgreSQL slow or hanging). The
    /// commit may still complete afterwards: a client retrying with the same idempotency-key or eventId then gets that
    /// message, never a second one.</summary>
    public TimeSpan CommitTimeout { get; set; } = TimeSpan.FromSeconds(1.5);

    /// <summary>How often the relay looks for committed messages that never reached Kafka.</summary>
    public TimeSpan RelayInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>How old an unpublished message must be before the relay takes it over from the request path.</summary>
    public TimeSpan RelayGrace { get; set; } = TimeSpan.FromSeconds(10);
}
