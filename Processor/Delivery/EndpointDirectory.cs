using System.Text.Json;
using Npgsql;

namespace Herald.Processor.Delivery;

/// <summary>An endpoint as delivery needs it: where, with which extra headers, signed with which secrets.</summary>
public sealed record EndpointTarget(string Id, Uri Url, IReadOnlyList<string> Secrets, IReadOnlyDictionary<string, string> Headers);

/// <summary>Finds the endpoints a message goes to: enabled, of its application, whose filter admits its event type.</summary>
public sealed class EndpointDirectory(NpgsqlDataSource dataSource, TimeProvider time)
{
    public async Task<IReadOnlyList<EndpointTarget>> SubscribedAsync(string applicationId, string eventType, CancellationToken cancellationToken)
    {
        await using var query = dataSource.CreateCommand("""
            SELECT e.id, e.url, e.headers::text, array_agg(s.secret ORDER BY s.created_at DESC)
            FROM endpoints e
            JOIN endpoint_secrets s ON s.endpoint_id = e.id AND (s.expires_at IS NULL OR s.expires_at > $3)
            WHERE e.application_id = $1 AND NOT e.disabled AND (e.event_types IS NULL OR $2 = ANY(e.event_types))
            GROUP BY e.id
            ORDER BY e.id
            """);
        query.Parameters.Add(new() { Value = applicationId });
        query.Parameters.Add(new() { Value = eventType });
        query.Parameters.Add(new() { Value = time.GetUtcNow() });
        var targets = new List<EndpointTarget>();
        await using var reader = await query.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            targets.Add(new EndpointTarget(
                reader.GetString(0),
                new Uri(reader.GetString(1)),
                reader.GetFieldValue<string[]>(3),
                JsonSerializer.Deserialize<Dictionary<string, string>>(reader.GetString(2)) ?? []));
        }
        return targets;
    }
}
