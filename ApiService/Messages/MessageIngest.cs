using System.Diagnostics;
using System.Threading.Channels;
using Herald.ApiService.Problems;
using Herald.ServiceDefaults.Telemetry;
using Microsoft.Extensions.Options;
using Npgsql;
using NpgsqlTypes;

namespace Herald.ApiService.Messages;

/// <summary>A message accepted for commit: its id and time are fixed before it is queued.</summary>
public sealed record NewMessage(string Id, string ApplicationId, string EventType, string? EventId, string Payload, DateTimeOffset CreatedAt);

/// <summary>
/// Group commit: concurrent create-message requests queue here and a few writers each commit whatever has queued
/// as one multi-row INSERT — one transaction, one fsync, for many requests. Under light load a batch is a single
/// message and adds no delay; under heavy load batches grow up to <see cref="MessageOptions.MaxBatchSize"/>.
/// A request completes only after its transaction commits.
/// </summary>
public sealed class MessageIngest : IAsyncDisposable
{
    private readonly Channel<Pending> _queue = Channel.CreateUnbounded<Pending>(new UnboundedChannelOptions { SingleReader = false });
    private readonly NpgsqlDataSource _dataSource;
    private readonly MessagePublisher _publisher;
    private readonly MessageOptions _options;
    private readonly ILogger<MessageIngest> _logger;
    private readonly Task[] _writers;

    public MessageIngest(NpgsqlDataSource dataSource, MessagePublisher publisher, IOptions<MessageOptions> options, ILogger<MessageIngest> logger)
    {
        _dataSource = dataSource;
        _publisher = publisher;
        _options = options.Value;
        _logger = logger;
        // Not flowing the context keeps the writers out of the trace of whichever request happened to construct this.
        using (ExecutionContext.SuppressFlow())
        {
            _writers = [.. Enumerable.Range(0, Math.Max(1, _options.Writers)).Select(_ => Task.Run(WriteAsync))];
        }
    }

    /// <summary>Commits the message; returns the committed message, or the existing one when its eventId was already used.</summary>
    public async Task<Committed> CommitAsync(NewMessage message, CancellationToken cancellationToken)
    {
        // The writer commits it outside this request's flow: take the request's trace along.
        var pending = new Pending(message, Activity.Current?.Context ?? default);
        if (!_queue.Writer.TryWrite(pending))
            throw new ApiError(ApiErrorKind.Unavailable, "The service is shutting down; retry against another instance.");
        // The caller may stop waiting, but the commit goes ahead: the id is already decided.
        return await pending.Result.Task.WaitAsync(cancellationToken);
    }

    private async Task WriteAsync()
    {
        var batch = new List<Pending>(_options.MaxBatchSize);
        while (await _queue.Reader.WaitToReadAsync())
        {
            batch.Clear();
            while (batch.Count < _options.MaxBatchSize && _queue.Reader.TryRead(out var pending)) batch.Add(pending);
            if (batch.Count == 0) continue;
            try
            {
                await CommitBatchAsync(batch);
            }
            catch (PostgresException exception) when (exception.SqlState.StartsWith("22", StringComparison.Ordinal) || exception.SqlState == PostgresErrorCodes.ForeignKeyViolation)
            {
                // One bad row fails the whole statement: commit the rows one by one so only that request fails.
                foreach (var pending in batch) await CommitAloneAsync(pending);
            }
            catch (Exception exception)
            {
                _logger.LogError(exception, "Could not commit {Count} messages", batch.Count);
                foreach (var pending in batch) pending.Result.TrySetException(Unavailable());
            }
        }
    }

    private async Task CommitAloneAsync(Pending pending)
    {
        try
        {
            await CommitBatchAsync([pending]);
        }
        catch (PostgresException exception) when (exception.SqlState == PostgresErrorCodes.ForeignKeyViolation)
        {
            pending.Result.TrySetException(ApiError.NotFound("application"));
        }
        catch (PostgresException exception) when (exception.SqlState.StartsWith("22", StringComparison.Ordinal))
        {
            pending.Result.TrySetException(ApiError.Invalid("payload", $"PostgreSQL cannot store this payload: {exception.MessageText}"));
        }
        catch (Exception exception)
        {
            _logger.LogError(exception, "Could not commit message {MessageId}", pending.Message.Id);
            pending.Result.TrySetException(Unavailable());
        }
    }

    private async Task CommitBatchAsync(IReadOnlyList<Pending> batch)
    {
        var count = batch.Count;
        var ids = new string[count];
        var applications = new string[count];
        var types = new string[count];
        var eventIds = new string?[count];
        var payloads = new string[count];
        var times = new DateTimeOffset[count];
        var traces = new string?[count];
        for (var i = 0; i < count; i++)
        {
            var m = batch[i].Message;
            (ids[i], applications[i], types[i], eventIds[i], payloads[i], times[i]) = (m.Id, m.ApplicationId, m.EventType, m.EventId, m.Payload, m.CreatedAt);
            traces[i] = TracePropagation.Format(batch[i].Trace);
        }

        var inserted = new HashSet<string>(StringComparer.Ordinal);
        await using var connection = await _dataSource.OpenConnectionAsync();
        await using (var insert = new NpgsqlCommand("""
            INSERT INTO messages (id, application_id, event_type, event_id, payload, created_at, trace_parent)
            SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::json[], $6::timestamptz[], $7::text[])
            ON CONFLICT ON CONSTRAINT messages_event_id_unique DO NOTHING
            RETURNING id
            """, connection))
        {
            insert.Parameters.Add(new() { Value = ids });
            insert.Parameters.Add(new() { Value = applications });
            insert.Parameters.Add(new() { Value = types });
            insert.Parameters.Add(new() { Value = eventIds, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text });
            insert.Parameters.Add(new() { Value = payloads, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Json });
            insert.Parameters.Add(new() { Value = times });
            insert.Parameters.Add(new() { Value = traces, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text });
            await using var reader = await insert.ExecuteReaderAsync();
            while (await reader.ReadAsync()) inserted.Add(reader.GetString(0));
        }

        foreach (var pending in batch)
        {
            if (!inserted.Contains(pending.Message.Id)) continue;
            _publisher.Publish(pending.Message, pending.Trace);
            pending.Result.TrySetResult(new Committed(pending.Message, Existing: false));
        }
        foreach (var pending in batch.Where(p => !inserted.Contains(p.Message.Id)))
        {
            pending.Result.TrySetResult(await FindByEventIdAsync(connection, pending.Message));
        }
    }

    private static async Task<Committed> FindByEventIdAsync(NpgsqlConnection connection, NewMessage message)
    {
        await using var query = new NpgsqlCommand(
            "SELECT id, event_type, payload::text, created_at FROM messages WHERE application_id = $1 AND event_id = $2", connection);
        query.Parameters.Add(new() { Value = message.ApplicationId });
        query.Parameters.Add(new() { Value = message.EventId! });
        await using var reader = await query.ExecuteReaderAsync();
        if (!await reader.ReadAsync()) throw new InvalidOperationException($"Message with event id {message.EventId} vanished.");
        return new Committed(message with
        {
            Id = reader.GetString(0),
            EventType = reader.GetString(1),
            Payload = reader.IsDBNull(2) ? "null" : reader.GetString(2),
            CreatedAt = reader.GetFieldValue<DateTimeOffset>(3),
        }, Existing: true);
    }

    private static ApiError Unavailable() =>
        new(ApiErrorKind.Unavailable, "The message could not be stored right now; retry shortly.") { RetryAfter = TimeSpan.FromSeconds(1) };

    /// <summary>Commits what is queued, then stops. Runs after the web server has stopped taking requests.</summary>
    public async ValueTask DisposeAsync()
    {
        _queue.Writer.TryComplete();
        await Task.WhenAll(_writers);
    }

    public sealed record Committed(NewMessage Message, bool Existing);

    private sealed class Pending(NewMessage message, ActivityContext trace)
    {
        public NewMessage Message { get; } = message;

        /// <summary>The create-message request's span: parent of the publication, stored with the row.</summary>
        public ActivityContext Trace { get; } = trace;
        public TaskCompletionSource<Committed> Result { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
