using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Herald.Bench.Delivery;

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
}
