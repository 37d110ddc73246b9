using Herald.Tests.Harness;

namespace Herald.Tests.Delivery;

/// <summary>A delivery row as PostgreSQL holds it.</summary>
public sealed record DeliveryRow(string Status, int Attempts, DateTimeOffset? NextAttemptAt, string? LastError);

public static class DeliveryState
{
    public static async Task<DeliveryRow?> ReadAsync(this HeraldAppFixture herald, string messageId, string endpointId)
    {
        await using var connection = await herald.OpenDatabaseAsync();
        await using var query = new Npgsql.NpgsqlCommand(
            "SELECT status, attempts, next_attempt_at, last_error FROM deliveries WHERE message_id = $1 AND endpoint_id = $2", connection);
        query.Parameters.Add(new() { Value = messageId });
        query.Parameters.Add(new() { Value = endpointId });
        await using var reader = await query.ExecuteReaderAsync();
        if (!await reader.ReadAsync()) return null;
        return new DeliveryRow(reader.GetString(0), reader.GetInt32(1),
            reader.IsDBNull(2) ? null : reader.GetFieldValue<DateTimeOffset>(2), reader.IsDBNull(3) ? null : reader.GetString(3));
    }

    /// <summary>Polls until the delivery satisfies <paramref name="done"/>; returns its last state either way.</summary>
    public static async Task<DeliveryRow?> WaitForAsync(this HeraldAppFixture herald, string messageId, string endpointId,
        Func<DeliveryRow, bool> done, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        DeliveryRow? row;
        do
        {
            row = await herald.ReadAsync(messageId, endpointId);
            if (row is not null && done(row)) return row;
            await Task.Delay(100);
        } while (DateTime.UtcNow < deadline);
        return row;
    }

    /// <summary>Polls until <paramref name="count"/> requests reached <paramref name="url"/>.</summary>
    public static async Task<IReadOnlyList<ReceivedWebhook>> WaitForRequestsAsync(this WebhookReceiver receiver, Uri url, int count, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (receiver.ReceivedAt(url).Count < count && DateTime.UtcNow < deadline) await Task.Delay(50);
        return receiver.ReceivedAt(url);
    }
}
