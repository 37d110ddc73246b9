using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Herald.Bench.Delivery;
using Aspire.Hosting.Testing;
using Npgsql;

namespace Herald.Bench.Cost;

/// <summary>What a benchmark publishes to: Herald or the floor. Message <c>i</c> goes to endpoint <c>i % Endpoints</c>,
/// whose webhooks arrive at the receiver under <c>/latency</c>, identified by the id the 202 answered with.</summary>
public abstract class Target(string name, int endpoints)
{
    public const string Payload = """{"order":1234,"customer":"c_42","total":99.5,"currency":"EUR"}""";

    public string Name { get; } = name;

    public int Endpoints { get; } = endpoints;

    /// <summary>The programs whose CPU counts as this target's (by <see cref="CpuUse"/> name).</summary>
    public abstract IReadOnlyList<string> Programs { get; }

    /// <summary>A client for the ingest API, authenticated as the target needs.</summary>
    public abstract HttpClient CreateClient();

    public abstract HttpRequestMessage CreateMessage(int index);

    public abstract Task StopProcessingAsync();

    /// <summary>Where the time of these messages went between ingest and arrival, from what the target recorded; null
    /// when it records no timestamps of its own.</summary>
    public virtual Task<string?> DescribeStagesAsync(IReadOnlyList<string> ids) => Task.FromResult<string?>(null);

    /// <summary>Sends message <paramref name="index"/>: its id and when the 202 arrived (Stopwatch timestamp), or null.</summary>
    public async Task<(string Id, long AcceptedAt)?> SendAsync(HttpClient http, int index)
    {
        try
        {
            using var request = CreateMessage(index);
            using var response = await http.SendAsync(request);
            var at = Stopwatch.GetTimestamp();
            if (response.StatusCode != HttpStatusCode.Accepted) return null;
            var id = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetString()!;
            return (id, at);
        }
        catch (HttpRequestException)
        {
            return null;
        }
    }

    protected static StringContent Json(string body) => new(body, Encoding.UTF8, "application/json");
}

/// <summary>Herald's API, with endpoints <c>/latency/{i}</c> subscribed to <c>bench.latency.{i}</c>.</summary>
public sealed class HeraldTarget : Target
{
    private readonly HeraldUnderTest _herald;

    private HeraldTarget(HeraldUnderTest herald, int endpoints) : base("Herald", endpoints) => _herald = herald;

    public static async Task<HeraldTarget> CreateAsync(HeraldUnderTest herald, Receiver receiver, int endpoints)
    {
        for (var i = 0; i < endpoints; i++)
            await herald.CreateEndpointAsync(herald.Application, new Uri(receiver.Url, $"/latency/{i}"), $"bench.latency.{i}");
        return new HeraldTarget(herald, endpoints);
    }

    public override IReadOnlyList<string> Programs { get; } = [CpuUse.Api, CpuUse.Processor, CpuUse.Postgres, CpuUse.Redis, CpuUse.Benchmark];

    public override HttpClient CreateClient() => _herald.CreateClient();

    public override HttpRequestMessage CreateMessage(int index) => new(HttpMethod.Post, _herald.MessagesUrl)
    {
        Content = Json($$"""{"eventType":"bench.latency.{{index % Endpoints}}","payload":{{Payload}}}"""),
    };

    public override Task StopProcessingAsync() => _herald.StopProcessorsAsync();

    /// <summary>p50 / p99 of each stage, from the rows' own timestamps (every service reads the same clock here).</summary>
    public override async Task<string?> DescribeStagesAsync(IReadOnlyList<string> ids)
    {
        await using var connection = new NpgsqlConnection(await _herald.App.GetConnectionStringAsync("herald"));
        await connection.OpenAsync();
        await using var query = new NpgsqlCommand("""
            WITH stages AS (
                SELECT extract(epoch FROM d.created_at - m.created_at) * 1000 AS fanned_out,
                       extract(epoch FROM d.claimed_at - d.created_at) * 1000 AS claimed,
                       extract(epoch FROM a.attempted_at - d.claimed_at) * 1000 - a.latency_ms AS sending,
                       a.latency_ms AS answered
                FROM unnest($1::text[]) AS ids(id)
                JOIN messages m ON m.id = ids.id
                JOIN deliveries d ON d.message_id = m.id
                JOIN delivery_attempts a ON a.message_id = d.message_id AND a.endpoint_id = d.endpoint_id)
            SELECT percentile_cont(ARRAY[0.5, 0.99]) WITHIN GROUP (ORDER BY fanned_out),
                   percentile_cont(ARRAY[0.5, 0.99]) WITHIN GROUP (ORDER BY claimed),
                   percentile_cont(ARRAY[0.5, 0.99]) WITHIN GROUP (ORDER BY sending),
                   percentile_cont(ARRAY[0.5, 0.99]) WITHIN GROUP (ORDER BY answered)
            FROM stages
            """, connection);
        query.Parameters.Add(new() { Value = ids.ToArray() });
        await using var reader = await query.ExecuteReaderAsync();
        if (!await reader.ReadAsync() || reader.IsDBNull(0)) return null;
        string Stage(int column, string name)
        {
            var p = reader.GetFieldValue<double[]>(column);
            return $"{name} {p[0]:0.0} / {p[1]:0.0} ms";
        }
        return $"ingest → delivery row {Stage(0, "")}; → attempt claimed {Stage(1, "")}; → request sent {Stage(2, "")}; → answered {Stage(3, "")} (p50 / p99)";
    }
}
