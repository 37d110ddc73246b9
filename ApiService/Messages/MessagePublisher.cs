using System.Collections.Concurrent;
using System.Diagnostics;
using System.Threading.Channels;
using Confluent.Kafka;
using Herald.Kafka;
using Herald.ApiService.Telemetry;
using Herald.Messages;
using Herald.Secrets;
using Herald.ServiceDefaults.Telemetry;
using Npgsql;

namespace Herald.ApiService.Messages;

/// <summary>
/// Publishes committed messages to Kafka and takes them out of the outbox (<c>message_outbox</c>), in batches. A message
/// whose publication fails (Kafka down past the producer's timeout, or this process gone) stays in the outbox, where the
/// <see cref="OutboxRelay"/> finds it: nothing committed is ever left behind.
/// </summary>
public sealed class MessagePublisher : IAsyncDisposable
{
    private static readonly TimeSpan FlushInterval = TimeSpan.FromMilliseconds(50);

    private readonly IProducer<string, byte[]> _producer;
    private readonly NpgsqlDataSource _dataSource;
    private readonly RecordAuthenticator _records;
    private readonly ILogger<MessagePublisher> _logger;
    private readonly ConcurrentDictionary<string, byte> _inFlight = new(StringComparer.Ordinal);
    private readonly Channel<string> _published = Channel.CreateUnbounded<string>(new UnboundedChannelOptions { SingleReader = true });
    private readonly Task _marker;

    public MessagePublisher(IProducer<string, byte[]> producer, NpgsqlDataSource dataSource, RecordAuthenticator records, ILogger<MessagePublisher> logger)
    {
        _records = records;
        _producer = producer;
        _dataSource = dataSource;
        _logger = logger;
        // Not flowing the context keeps the marker out of the trace of whichever request happened to construct this.
        using (ExecutionContext.SuppressFlow())
        {
            _marker = Task.Run(MarkPublishedAsync);
        }
    }

    /// <summary>Whether this process is still publishing the message (the relay leaves those alone).</summary>
    public bool IsInFlight(string messageId) => _inFlight.ContainsKey(messageId);

    /// <param name="trace">The create-message request's span, which the publication continues.</param>
    public void Publish(NewMessage message, ActivityContext trace = default)
    {
        _inFlight[message.Id] = 0;
        var record = new MessagePublished(message.Id, message.ApplicationId, message.EventType, message.Payload, message.CreatedAt)
        {
            Queued = message.Queued,
        };
        using var activity = StartPublishActivity(message.Id, message.ApplicationId, trace);
        try
        {
            _producer.Produce(Topics.Messages.Name, Record(record, activity, trace), report =>
            {
                _inFlight.TryRemove(message.Id, out _);
                if (report.Error.IsError)
                    _logger.LogWarning("Message {MessageId} not published ({Reason}); the relay will retry", message.Id, report.Error.Reason);
                else
                    _published.Writer.TryWrite(message.Id);
            });
        }
        catch (ProduceException<string, byte[]> exception)
        {
            // The local queue is full or the producer is closing: the relay publishes it later.
            _inFlight.TryRemove(message.Id, out _);
            _logger.LogWarning("Message {MessageId} not queued for Kafka ({Reason}); the relay will retry", message.Id, exception.Error.Reason);
        }
    }

    /// <summary>The producer span of one message on <c>herald.messages</c> (the relay's too).</summary>
    internal static Activity? StartPublishActivity(string messageId, string applicationId, ActivityContext parent)
    {
        var activity = ApiMetrics.Tracing.StartActivity($"{Topics.Messages.Name} publish", ActivityKind.Producer, parent);
        activity?.SetTag("messaging.system", "kafka");
        activity?.SetTag("messaging.operation.type", "send");
        activity?.SetTag("messaging.destination.name", Topics.Messages.Name);
        activity?.SetTag("herald.message.id", messageId);
        activity?.SetTag("herald.application.id", applicationId);
        return activity;
    }

    /// <summary>The message's record on <c>herald.messages</c>: authenticated as Herald's, with headers carrying the
    /// producer span (or, unrecorded, its parent) to the consumer.</summary>
    internal Message<string, byte[]> Record(MessagePublished message, Activity? activity, ActivityContext parent)
    {
        var headers = new Headers();
        TracePropagation.Inject(headers, activity?.Context ?? parent);
        var value = message.ToUtf8Bytes();
        _records.Stamp(headers, Topics.Messages.Name, message.MessageId, value);
        return new Message<string, byte[]> { Key = message.MessageId, Value = value, Headers = headers };
    }

    private async Task MarkPublishedAsync()
    {
        var ids = new List<string>();
        while (await _published.Reader.WaitToReadAsync())
        {
            ids.Clear();
            while (ids.Count < 5000 && _published.Reader.TryRead(out var id)) ids.Add(id);
            try
            {
                await using var mark = _dataSource.CreateCommand("DELETE FROM message_outbox WHERE message_id = ANY($1)");
                mark.Parameters.Add(new() { Value = ids.ToArray() });
                await mark.ExecuteNonQueryAsync();
            }
            catch (Exception exception) when (exception is NpgsqlException or TimeoutException)
            {
                // They are in Kafka; at worst the relay publishes them again (receivers dedupe on webhook-id).
                _logger.LogWarning("Could not mark {Count} messages published: {Reason}", ids.Count, exception.Message);
            }
            await Task.Delay(FlushInterval);
        }
    }

    /// <summary>Waits for outstanding deliveries, then records the last of them.</summary>
    public async ValueTask DisposeAsync()
    {
        await Task.Run(() => _producer.Flush(TimeSpan.FromSeconds(10)));
        _published.Writer.TryComplete();
        await _marker;
    }
}
