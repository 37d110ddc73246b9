using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Herald.Processor.Delivery;
using Herald.Processor.Delivery.Ssrf;

namespace Herald.Tests.Unit;

/// <summary>Whether a webhook request carries Herald's trace context is the operator's choice
/// (<c>Herald:Delivery:PropagateTraceContext</c>), off by default; the request's own span is recorded either way.</summary>
public sealed class TraceContextPropagationTests
{
    private static readonly ActivitySource Source = new("Herald.Tests.TraceContext");

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_webhook_request_carries_a_traceparent_only_when_the_setting_says_so(bool propagate)
    {
        var recorded = new List<Activity>();
        using var listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name is "Herald.Tests.TraceContext" or "System.Net.Http",
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = activity => { lock (recorded) recorded.Add(activity); },
        };
        ActivitySource.AddActivityListener(listener);
        using var server = new CapturingServer();
        var options = new DeliveryOptions { PropagateTraceContext = propagate };
        using var client = new HttpClient(DeliveryHosting.CreateHandler(new DestinationConnector(DestinationPolicy.FromSettings(["127.0.0.0/8"])), options));

        using (var parent = Source.StartActivity("deliver"))
        {
            Assert.NotNull(parent);
            using var response = await client.PostAsync($"http://127.0.0.1:{server.Port}/hook", new StringContent("{}"));
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            var request = await server.Request;
            var traceParent = request.Split("\r\n").FirstOrDefault(line => line.StartsWith("traceparent:", StringComparison.OrdinalIgnoreCase));
            if (propagate)
            {
                Assert.NotNull(traceParent);
                Assert.Contains(parent.TraceId.ToHexString(), traceParent);
            }
            else
            {
                Assert.Null(traceParent);
                Assert.DoesNotContain(parent.TraceId.ToHexString(), request);
            }
        }
        lock (recorded) Assert.Contains(recorded, a => a.Source.Name == "System.Net.Http" && a.Kind == ActivityKind.Client);
    }

    /// <summary>Answers one HTTP request with 200 and keeps its head.</summary>
    private sealed class CapturingServer : IDisposable
    {
        private readonly TcpListener _listener = new(IPAddress.Loopback, 0);

        public CapturingServer()
        {
            _listener.Start();
            Request = AnswerAsync();
        }

        public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

        public Task<string> Request { get; }

        private async Task<string> AnswerAsync()
        {
            using var client = await _listener.AcceptTcpClientAsync();
            var stream = client.GetStream();
            var head = new StringBuilder();
            var buffer = new byte[8192];
            while (!head.ToString().Contains("\r\n\r\n", StringComparison.Ordinal))
            {
                var read = await stream.ReadAsync(buffer);
                if (read == 0) break;
                head.Append(Encoding.ASCII.GetString(buffer, 0, read));
            }
            await stream.WriteAsync("HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"u8.ToArray());
            return head.ToString();
        }

        public void Dispose() => _listener.Stop();
    }
}
