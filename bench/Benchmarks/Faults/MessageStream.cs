using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;

namespace Herald.Bench.Faults;

/// <summary>How a create-message request failed without an HTTP answer.</summary>
public enum TransportFailure
{
    None,
    /// <summary>No connection could be made (nothing listening): the request never reached a server.</summary>
    ConnectionRefused,
    /// <summary>The connection broke after it was made: a request in flight that got no answer.</summary>
    Broken,
    /// <summary>No answer within the client's timeout.</summary>
    Timeout,
}

/// <summary>One create-message request of the stream, filled in when it ends.</summary>
public sealed class CreateMessage(int index, int application, long dueAt)
{
    public int Index { get; } = index;

    /// <summary>Which of the stream's applications it went to.</summary>
    public int Application { get; } = application;

    /// <summary>When it was due (Stopwatch timestamp); its latency counts from here.</summary>
    public long DueAt { get; } = dueAt;

    /// <summary>When the answer (or the failure) came.</summary>
    public long EndedAt { get; set; }

    /// <summary>The HTTP status, or 0 without an answer.</summary>
    public int Status { get; set; }

    public TransportFailure Failure { get; set; }

    /// <summary>The message id of a 202.</summary>
    public string? MessageId { get; set; }

    public bool Accepted => MessageId is not null;

    public TimeSpan Latency => Stopwatch.GetElapsedTime(DueAt, EndedAt);
}

/// <summary>
/// A paced stream of create-message requests (<see cref="Pacer"/>), round-robin over applications, to wherever the API
/// process is now: a client fleet that follows a restarted API as a load balancer would. Never retries.
/// </summary>
public sealed class MessageStream(HeraldUnderTest herald, IReadOnlyList<BenchApplication> applications, int rate)
{
    /// <summary>How long a client waits for an answer.</summary>
    public static readonly TimeSpan ClientTimeout = TimeSpan.FromSeconds(10);

    private readonly List<CreateMessage> _requests = [];

    /// <summary>The requests started so far; those still in flight have no <see cref="CreateMessage.EndedAt"/> yet.</summary>
    public IReadOnlyList<CreateMessage> Snapshot()
    {
        lock (_requests) return [.. _requests];
    }

    /// <summary>Sends until <paramref name="stop"/>, then waits for every request to end.</summary>
    public async Task<IReadOnlyList<CreateMessage>> RunAsync(CancellationToken stop)
    {
        // Enough connections that a stall of the whole timeout (rate × 10 s requests) does not queue in the client.
        using var http = new HttpClient(new SocketsHttpHandler
        {
            MaxConnectionsPerServer = Math.Max(256, rate * (int)ClientTimeout.TotalSeconds * 2),
            PooledConnectionLifetime = Timeout.InfiniteTimeSpan,
        })
        {
            Timeout = ClientTimeout,
        };
        var pending = new List<Task>();
        await Pacer.RunAsync(rate, int.MaxValue, (index, dueAt) =>
        {
            var request = new CreateMessage(index, index % applications.Count, dueAt);
            lock (_requests) _requests.Add(request);
            pending.Add(SendAsync(http, request));
        }, stop);
        await Task.WhenAll(pending);
        return Snapshot();
    }

    private async Task SendAsync(HttpClient http, CreateMessage request)
    {
        var application = applications[request.Application];
        using var message = new HttpRequestMessage(HttpMethod.Post, new Uri(herald.CurrentApi(), $"/api/v1/apps/{application.Id}/messages"))
        {
            Content = new StringContent($$$"""{"eventType":"fault.tick","payload":{"i":{{{request.Index}}}}}""", Encoding.UTF8, "application/json"),
        };
        message.Headers.Authorization = new("Bearer", application.ApiKey);
        try
        {
            using var response = await http.SendAsync(message);
            request.Status = (int)response.StatusCode;
            if (response.StatusCode == HttpStatusCode.Accepted)
            {
                request.MessageId = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetString();
            }
        }
        catch (TaskCanceledException exception) when (exception.InnerException is TimeoutException)
        {
            request.Failure = TransportFailure.Timeout;
        }
        catch (HttpRequestException exception)
        {
            request.Failure = exception.HttpRequestError == HttpRequestError.ConnectionError ? TransportFailure.ConnectionRefused : TransportFailure.Broken;
        }
        finally
        {
            request.EndedAt = Stopwatch.GetTimestamp();
        }
    }
}
