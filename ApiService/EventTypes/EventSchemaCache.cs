using Herald.ApiService.Caching;
using Npgsql;

namespace Herald.ApiService.EventTypes;

/// <summary>
/// Compiled event type schemas for create-message's payload validation (<see cref="RefreshingCache"/>, as
/// <see cref="Applications.ApplicationCache"/>): a message never waits on PostgreSQL or re-parses a schema it has
/// seen. A change made through this replica is forgotten at once; other replicas re-read the row once it is older than
/// <see cref="Fresh"/> (a background read), and compile again only when its text changed.
/// </summary>
public sealed class EventSchemaCache(NpgsqlDataSource dataSource, RefreshingCache cache, ILogger<EventSchemaCache> logger)
{
    public static readonly TimeSpan Fresh = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan Stale = TimeSpan.FromMinutes(5);

    /// <summary>The event type's compiled schema; null when it has none (or does not exist).</summary>
    public ValueTask<EventSchema?> GetAsync(string applicationId, string eventType, CancellationToken cancellationToken)
    {
        var key = Key(applicationId, eventType);
        return cache.GetAsync(key, ct => LoadAsync(key, applicationId, eventType, ct), Fresh, Stale, cancellationToken);
    }

    /// <summary>Forgets the type's schema in this replica (it was just changed here).</summary>
    public void Forget(string applicationId, string eventType) => cache.Remove(Key(applicationId, eventType));

    private async Task<EventSchema?> LoadAsync(string key, string applicationId, string eventType, CancellationToken cancellationToken)
    {
        await using var query = dataSource.CreateCommand("SELECT schema::text FROM event_types WHERE application_id = $1 AND name = $2");
        query.Parameters.Add(new() { Value = applicationId });
        query.Parameters.Add(new() { Value = eventType });
        if (await query.ExecuteScalarAsync(cancellationToken) is not string text) return null;
        // Unchanged since it was compiled: keep the compiled one.
        if (cache.TryGet<EventSchema?>(key, out var known) && known?.Text == text) return known;
        var schema = EventSchema.Compile(text, out var problem);
        if (problem is null) return schema;
        // Stored schemas were checked when they were written; one that no longer compiles validates nothing.
        logger.LogWarning("The schema of event type {EventType} of {ApplicationId} does not compile: {Problem}", eventType, applicationId, problem);
        return null;
    }

    private static string Key(string applicationId, string eventType) => $"event-schema:{applicationId}\n{eventType}";
}
