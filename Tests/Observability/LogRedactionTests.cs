using System.Collections.Concurrent;
using Aspire.Hosting;
using Aspire.Hosting.ApplicationModel;
using Herald.Grpc.V1;
using Herald.Tests.Delivery;
using Herald.Tests.Harness;
using Microsoft.Extensions.DependencyInjection;

namespace Herald.Tests.Observability;

/// <summary>Issue 5, logs: the delivery path logs with message id, endpoint id and attempt in scope, and no service
/// ever logs an API key, a signing secret, a signature or a payload — here, everything the API and both Processor
/// replicas write while a message is created over REST and gRPC, fails once and is retried.</summary>
[Collection(HeraldAppCollection.Name)]
public sealed class LogRedactionTests(HeraldAppFixture herald)
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task No_service_logs_keys_secrets_signatures_or_payloads()
    {
        var app = await herald.Admin.CreateApplicationAsync("Redacted");
        var key = await herald.Admin.CreateApplicationKeyAsync(app);
        var url = herald.Receiver.UrlFor("redacted-" + Guid.NewGuid().ToString("N"));
        var (endpointId, secret) = await herald.Admin.CreateEndpointAsync(app, url);
        var calls = 0;
        herald.Receiver.ReplyAt(url, _ => Interlocked.Increment(ref calls) == 1 ? new Reply(500) : Reply.Ok);
        var marker = "payload-marker-" + Guid.NewGuid().ToString("N");

        var logs = new ConcurrentQueue<string>();
        using var watching = new CancellationTokenSource();
        var watchers = (await ServiceInstancesAsync()).Select(id => herald.WatchLogsAsync(id, logs, watching.Token)).ToList();

        using var client = herald.Client(key);
        var messageId = await client.SendMessageAsync(app, "invoice.paid", new { marker });
        await new Herald.Grpc.V1.Messages.MessagesClient(herald.Grpc).CreateAsync(
            new CreateMessageRequest { AppId = app, EventType = "invoice.paid", PayloadJson = $$"""{"marker":"{{marker}}"}""" }, HeraldAppFixture.Bearer(key));
        var attempts = await herald.Receiver.WaitForRequestsAsync(url, 3, Patience);
        Assert.Equal(3, attempts.Count); // one message twice (500, then the retry), the other once
        Assert.Contains(attempts, a => a.MessageId == messageId);
        await Task.Delay(TimeSpan.FromSeconds(2)); // the last attempt's log lines
        await watching.CancelAsync();
        await Task.WhenAll(watchers);

        var all = logs.ToList();
        // The logs were watched: the failed attempt (whichever message drew the 500) is logged with its message id.
        var failed = attempts.First(a => a.Status == 500).MessageId!;
        Assert.Contains(all, line => line.Contains(failed, StringComparison.Ordinal));
        var signature = attempts[0].Headers["webhook-signature"];
        foreach (var (what, value) in (IEnumerable<(string, string)>)[("the API key", key), ("the admin key", herald.AdminKey),
                     ("the signing secret", secret), ("a signing secret", "whsec_"), ("the signature", signature.Split(',')[1]),
                     ("the payload", marker), ("the endpoint URL", url.AbsolutePath)])
        {
            var leak = all.FirstOrDefault(line => line.Contains(value, StringComparison.Ordinal));
            Assert.True(leak is null, $"A service logged {what}: {leak}");
        }
    }

    private async Task<IReadOnlyList<string>> ServiceInstancesAsync()
    {
        var api = await herald.CurrentStateAsync("api");
        return [api.ResourceId, .. (await herald.ProcessorInstancesAsync()).Keys];
    }
}
