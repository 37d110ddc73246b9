using System.Text;
using System.Text.Json;
using Aspire.Hosting.Testing;
using Google.Protobuf;
using Grpc.Core;
using Grpc.Health.V1;
using Grpc.Reflection.V1Alpha;
using Herald.Grpc.V1;
using Herald.Tests.Harness;
using StandardWebhooks;

namespace Herald.Tests.Api;

/// <summary>The gRPC surface over a real HTTP/2 connection: the same behaviour as REST, with gRPC statuses.</summary>
[Collection(HeraldAppCollection.Name)]
public sealed class GrpcApiTests(HeraldAppFixture herald)
{
    private Metadata Admin => HeraldAppFixture.Bearer(herald.AdminKey);

    [Fact]
    public async Task Everything_an_application_needs_works_over_grpc_end_to_end()
    {
        var applications = new Applications.ApplicationsClient(herald.Grpc);
        var keys = new ApiKeys.ApiKeysClient(herald.Grpc);
        var types = new EventTypes.EventTypesClient(herald.Grpc);
        var endpoints = new Endpoints.EndpointsClient(herald.Grpc);
        var messages = new Herald.Grpc.V1.Messages.MessagesClient(herald.Grpc);

        var app = await applications.CreateAsync(new CreateApplicationRequest { Application = new() { Name = "grpc app", RateLimit = 5 } }, Admin);
        Assert.StartsWith("app_", app.Id);
        Assert.Equal(5, app.RateLimit);
        var created = await keys.CreateAsync(new CreateApiKeyRequest { AppId = app.Id, Name = "grpc" }, Admin);
        var auth = HeraldAppFixture.Bearer(created.Key);

        var type = await types.CreateAsync(new EventTypeRequest { AppId = app.Id, Name = "invoice.paid", Description = "paid" }, auth);
        Assert.Equal("invoice.paid", type.Name);
        var url = herald.Receiver.UrlFor(Guid.NewGuid().ToString("N"));
        var endpoint = await endpoints.CreateAsync(new CreateEndpointRequest
        {
            AppId = app.Id,
            Endpoint = new() { Url = url.ToString(), EventTypes = { "invoice.paid" }, Headers = { ["X-Source"] = "grpc" } },
        }, auth);
        var secret = await endpoints.GetSecretAsync(new EndpointRef { AppId = app.Id, EndpointId = endpoint.Id }, auth);

        var message = await messages.CreateAsync(new CreateMessageRequest
        {
            AppId = app.Id, EventType = "invoice.paid", EventId = "grpc-1", PayloadJson = """{"amount": 12.50}""",
        }, auth);
        var webhook = await herald.Receiver.WaitForAsync(message.Id, TimeSpan.FromSeconds(30), url.AbsolutePath);
        new StandardWebhook(secret.Key).Verify(webhook.Body, webhook.HeaderDictionary());
        Assert.Equal("""{"amount": 12.50}""", webhook.Body);
        Assert.Equal("grpc", webhook.Headers["x-source"]);

        var fetched = await messages.GetAsync(new MessageRef { AppId = app.Id, MessageId = message.Id }, auth);
        Assert.Equal(12.5m, JsonDocument.Parse(fetched.PayloadJson).RootElement.GetProperty("amount").GetDecimal());
        var listed = await messages.ListAsync(new ListMessagesRequest { AppId = app.Id, EventTypes = { "invoice.paid" } }, auth);
        Assert.Equal(message.Id, Assert.Single(listed.Data).Id);
        AttemptPage attempts = new();
        for (var i = 0; i < 50 && attempts.Data.Count == 0; i++, await Task.Delay(100))
            attempts = await messages.ListAttemptsAsync(new MessageRef { AppId = app.Id, MessageId = message.Id }, auth);
        Assert.Equal("succeeded", Assert.Single(attempts.Data).Status);
        Assert.Single((await messages.ListEndpointAttemptsAsync(new EndpointRef { AppId = app.Id, EndpointId = endpoint.Id }, auth)).Data);

        var updated = await endpoints.UpdateAsync(new UpdateEndpointRequest
        {
            AppId = app.Id, EndpointId = endpoint.Id, Endpoint = new() { Url = "https://example.com/new", Disabled = true },
        }, auth);
        Assert.True(updated.Disabled);
        Assert.Empty(updated.EventTypes);
        await endpoints.RotateSecretAsync(new RotateSecretRequest { AppId = app.Id, EndpointId = endpoint.Id }, auth);
        Assert.NotEqual(secret.Key, (await endpoints.GetSecretAsync(new EndpointRef { AppId = app.Id, EndpointId = endpoint.Id }, auth)).Key);
        Assert.Single((await endpoints.ListAsync(new ListEndpointsRequest { AppId = app.Id }, auth)).Data);
        await endpoints.DeleteAsync(new EndpointRef { AppId = app.Id, EndpointId = endpoint.Id }, auth);

        await types.ArchiveAsync(new EventTypeRef { AppId = app.Id, Name = "invoice.paid" }, auth);
        Assert.True((await types.GetAsync(new EventTypeRef { AppId = app.Id, Name = "invoice.paid" }, auth)).Archived);
        Assert.Empty((await types.ListAsync(new ListEventTypesRequest { AppId = app.Id }, auth)).Data);

        // An application key renames its application but cannot move its rate limit (only an admin key can).
        var lifted = await Assert.ThrowsAsync<RpcException>(() =>
            applications.UpdateAsync(new UpdateApplicationRequest { AppId = app.Id, Application = new() { Name = "renamed" } }, auth).ResponseAsync);
        Assert.Equal(StatusCode.PermissionDenied, lifted.StatusCode);
        var renamed = await applications.UpdateAsync(new UpdateApplicationRequest { AppId = app.Id, Application = new() { Name = "renamed", RateLimit = 5 } }, auth);
        Assert.Equal("renamed", renamed.Name);
        Assert.Equal(5, renamed.RateLimit);

        await keys.RevokeAsync(new ApiKeyRef { AppId = app.Id, KeyId = created.ApiKey.Id }, Admin);
        var revoked = await Assert.ThrowsAsync<RpcException>(() => applications.GetAsync(new ApplicationRef { AppId = app.Id }, auth).ResponseAsync);
        Assert.Equal(StatusCode.Unauthenticated, revoked.StatusCode);
        await applications.DeleteAsync(new ApplicationRef { AppId = app.Id }, Admin);
    }

    [Fact]
    public async Task Errors_are_mapped_to_grpc_statuses()
    {
        var applications = new Applications.ApplicationsClient(herald.Grpc);
        var types = new EventTypes.EventTypesClient(herald.Grpc);
        var messages = new Herald.Grpc.V1.Messages.MessagesClient(herald.Grpc);
        var a = await applications.CreateAsync(new CreateApplicationRequest { Application = new() { Name = "a" } }, Admin);
        var b = await applications.CreateAsync(new CreateApplicationRequest { Application = new() { Name = "b" } }, Admin);
        var keyB = HeraldAppFixture.Bearer(await herald.Admin.CreateApplicationKeyAsync(b.Id));
        await types.CreateAsync(new EventTypeRequest { AppId = a.Id, Name = "x.y" }, Admin);

        async Task<RpcException> Fails<T>(AsyncUnaryCall<T> call) => await Assert.ThrowsAsync<RpcException>(() => call.ResponseAsync);

        Assert.Equal(StatusCode.Unauthenticated, (await Fails(applications.GetAsync(new ApplicationRef { AppId = a.Id }))).StatusCode);
        Assert.Equal(StatusCode.Unauthenticated, (await Fails(applications.GetAsync(new ApplicationRef { AppId = a.Id }, HeraldAppFixture.Bearer("hk_app_wrong")))).StatusCode);
        Assert.Equal(StatusCode.NotFound, (await Fails(applications.GetAsync(new ApplicationRef { AppId = a.Id }, keyB))).StatusCode);
        Assert.Equal(StatusCode.NotFound, (await Fails(messages.CreateAsync(new CreateMessageRequest { AppId = a.Id, EventType = "x.y", PayloadJson = "{}" }, keyB))).StatusCode);
        Assert.Equal(StatusCode.PermissionDenied, (await Fails(applications.ListAsync(new ListApplicationsRequest(), keyB))).StatusCode);
        Assert.Equal(StatusCode.AlreadyExists, (await Fails(types.CreateAsync(new EventTypeRequest { AppId = a.Id, Name = "x.y" }, Admin))).StatusCode);

        var invalid = await Fails(messages.CreateAsync(new CreateMessageRequest { AppId = a.Id, EventType = "bad type", PayloadJson = "[1]" }, Admin));
        Assert.Equal(StatusCode.InvalidArgument, invalid.StatusCode);
        Assert.Contains("eventType", invalid.Status.Detail);
        Assert.Contains("payload", invalid.Status.Detail);
        var notJson = await Fails(messages.CreateAsync(new CreateMessageRequest { AppId = a.Id, EventType = "x.y", PayloadJson = "{nope" }, Admin));
        Assert.Equal(StatusCode.InvalidArgument, notJson.StatusCode);
        var tooBig = await Fails(messages.CreateAsync(new CreateMessageRequest
        {
            AppId = a.Id, EventType = "x.y", PayloadJson = JsonSerializer.Serialize(new { blob = new string('x', 300 * 1024) }),
        }, Admin));
        Assert.True(tooBig.StatusCode == StatusCode.ResourceExhausted, tooBig.Status.ToString());
        Assert.Equal(StatusCode.InvalidArgument, (await Fails(applications.ListAsync(new ListApplicationsRequest { Page = new() { Limit = 999 } }, Admin))).StatusCode);
    }

    [Fact]
    public async Task Text_that_cannot_be_stored_is_invalid_argument_naming_the_field_and_nothing_is_written()
    {
        var app = await herald.Admin.CreateApplicationAsync();
        await herald.Admin.SendMessageAsync(app, "before.refusal", new { ok = true });
        var applications = new Applications.ApplicationsClient(herald.Grpc);
        var endpoints = new Endpoints.EndpointsClient(herald.Grpc);
        var messages = new Herald.Grpc.V1.Messages.MessagesClient(herald.Grpc);
        var key = Guid.NewGuid().ToString();
        var auth = Admin;
        auth.Add("idempotency-key", key);
        await using var database = await herald.OpenDatabaseAsync();
        var before = await ApiFuzzTests.FingerprintAsync(database);

        static async Task Refused(Task call, string field)
        {
            var error = await Assert.ThrowsAsync<RpcException>(() => call);
            Assert.True(error.StatusCode == StatusCode.InvalidArgument, error.Status.ToString());
            Assert.Contains(field, error.Status.Detail);
        }

        // Lone surrogates as JSON escapes inside the payload, NUL in string fields.
        await Refused(messages.CreateAsync(new() { AppId = app, EventType = "a.b", PayloadJson = """{"s":"\ud800"}""" }, auth).ResponseAsync, "payload_json");
        await Refused(messages.CreateAsync(new() { AppId = app, EventType = "a.b", PayloadJson = """{"a":[{"\udc00":1}]}""" }, auth).ResponseAsync, "payload_json");
        await Refused(messages.CreateAsync(new() { AppId = app, EventType = "a\0b", PayloadJson = "{}" }, auth).ResponseAsync, "event_type");
        await Refused(messages.CreateAsync(new() { AppId = app, EventType = "a.b", EventId = "x\0", PayloadJson = "{}" }, auth).ResponseAsync, "event_id");
        await Refused(messages.ListAsync(new() { AppId = app + "\0" }, auth).ResponseAsync, "app_id");
        await Refused(messages.ListAsync(new() { AppId = app, EventTypes = { "a\0" } }, auth).ResponseAsync, "event_types");
        await Refused(messages.ListAsync(new() { AppId = app, Before = new() { Seconds = long.MaxValue } }, auth).ResponseAsync, "before");
        await Refused(messages.ListAsync(new() { AppId = app, After = new() { Seconds = 0, Nanos = -1 } }, auth).ResponseAsync, "after");
        await Refused(endpoints.CreateAsync(new() { AppId = app, Endpoint = new() { Url = "https://example.com/", FilterJson = "{" } }, auth).ResponseAsync, "filter_json");
        await Refused(endpoints.CreateAsync(new() { AppId = app, Endpoint = new() { Url = "https://example.com/", Ordering = "lifo" } }, auth).ResponseAsync, "ordering");
        await Refused(applications.CreateAsync(new() { Application = new() { Name = "n\0" } }, auth).ResponseAsync, "name");
        await Refused(endpoints.CreateAsync(new() { AppId = app, Endpoint = new() { Url = "https://example.com/", Description = "\0" } }, auth).ResponseAsync, "description");
        await Refused(endpoints.CreateAsync(new() { AppId = app, Endpoint = new() { Url = "https://example.com/", Headers = { ["X-A"] = "v\0" } } }, auth).ResponseAsync, "headers");

        // Invalid UTF-8 in string fields, which no protobuf library writes: the request's bytes are patched where a
        // four-byte marker was serialized.
        byte[][] invalid = [[0xFF, 0x41, 0x42, 0x43], [0xED, 0xA0, 0x80, 0x41], [0xC3, 0x28, 0x41, 0x42], [0xF4, 0x90, 0x80, 0x80], [0x80, 0x80, 0x80, 0x80]];
        foreach (var bytes in invalid)
        {
            await Refused(RawUnary("herald.v1.Messages", "Create", Patch(new CreateMessageRequest { AppId = app, EventType = "ZZZZ", PayloadJson = "{}" }, bytes), auth), "event_type");
            await Refused(RawUnary("herald.v1.Messages", "Create", Patch(new CreateMessageRequest { AppId = app, EventType = "a.b", EventId = "ZZZZ", PayloadJson = "{}" }, bytes), auth), "event_id");
            await Refused(RawUnary("herald.v1.Messages", "Create", Patch(new CreateMessageRequest { AppId = app, EventType = "a.b", PayloadJson = """{"s":"ZZZZ"}""" }, bytes), auth), "payload_json");
            await Refused(RawUnary("herald.v1.Messages", "Get", Patch(new MessageRef { AppId = app, MessageId = "ZZZZ" }, bytes), auth), "message_id");
            await Refused(RawUnary("herald.v1.Messages", "List", Patch(new ListMessagesRequest { AppId = app, EventTypes = { "a.b", "ZZZZ" } }, bytes), auth), "event_types");
            await Refused(RawUnary("herald.v1.Messages", "List", Patch(new ListMessagesRequest { AppId = app, Page = new() { Iterator = "ZZZZ" } }, bytes), auth), "iterator");
            await Refused(RawUnary("herald.v1.Applications", "Create", Patch(new CreateApplicationRequest { Application = new() { Name = "ZZZZ" } }, bytes), auth), "name");
            await Refused(RawUnary("herald.v1.Endpoints", "Create", Patch(new CreateEndpointRequest
            {
                AppId = app, Endpoint = new() { Url = "https://example.com/", Headers = { ["X-A"] = "ZZZZ" } },
            }, bytes), auth), "headers");
            await Refused(RawServerStreaming("herald.v1.Deliveries", "WatchDeliveries", Patch(new WatchDeliveriesRequest { AppId = "ZZZZ" }, bytes), auth), "app_id");
        }

        // A compressed request is looked into too; a valid one still goes through.
        var gzip = Admin;
        gzip.Add("grpc-internal-encoding-request", "gzip");
        await Refused(RawUnary("herald.v1.Messages", "Create", Patch(new CreateMessageRequest { AppId = app, EventType = "ZZZZ", PayloadJson = "{}" }, invalid[0]), gzip), "event_type");
        await messages.ListAsync(new ListMessagesRequest { AppId = app }, gzip);

        // A frame marked compressed that is not gzip.
        Assert.Equal("3", await RawGrpcStatusAsync("/herald.v1.Messages/Get", [1, 0, 0, 0, 4, 0xDE, 0xAD, 0xBE, 0xEF], "gzip"));

        // Bytes that are not a protobuf message at all: a length past the end, a varint that never ends, tag 0.
        var reference = new MessageRef { AppId = app, MessageId = "msg_x" }.ToByteArray();
        await Refused(RawUnary("herald.v1.Messages", "Get", reference[..^1], auth), "protobuf");
        await Refused(RawUnary("herald.v1.Messages", "Get", [0x08, 0xFF, 0xFF], auth), "protobuf");
        await Refused(RawUnary("herald.v1.Applications", "Create", [0x00, 0x01], auth), "protobuf");

        Assert.Equal(before, await ApiFuzzTests.FingerprintAsync(database));
        var listed = await messages.ListAsync(new ListMessagesRequest { AppId = app }, Admin);
        Assert.Equal("before.refusal", Assert.Single(listed.Data).EventType);
    }

    private static byte[] Patch(IMessage request, byte[] bytes)
    {
        var serialized = request.ToByteArray();
        var at = serialized.AsSpan().IndexOf("ZZZZ"u8);
        Assert.True(at >= 0 && bytes.Length == 4);
        bytes.CopyTo(serialized, at);
        return serialized;
    }

    /// <summary>One gRPC request framed by hand over HTTP/2 (for what a gRPC client will not send); the grpc-status.</summary>
    private async Task<string?> RawGrpcStatusAsync(string path, byte[] frame, string encoding)
    {
        using var http = new HttpClient();
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(herald.App.GetEndpoint("api", "grpc"), path))
        {
            Version = System.Net.HttpVersion.Version20,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
            Content = new ByteArrayContent(frame) { Headers = { ContentType = new("application/grpc") } },
        };
        request.Headers.Authorization = new("Bearer", herald.AdminKey);
        request.Headers.TryAddWithoutValidation("grpc-encoding", encoding);
        request.Headers.TryAddWithoutValidation("te", "trailers");
        using var response = await http.SendAsync(request);
        await response.Content.ReadAsByteArrayAsync();
        return response.TrailingHeaders.TryGetValues("grpc-status", out var trailer) || response.Headers.TryGetValues("grpc-status", out trailer)
            ? trailer.FirstOrDefault()
            : $"HTTP {(int)response.StatusCode} {response.Version} {response.Headers} {response.Content.Headers}";
    }

    private static readonly Marshaller<byte[]> Bytes = Marshallers.Create(bytes => bytes, bytes => bytes);

    private Task RawUnary(string service, string method, byte[] request, Metadata headers) =>
        herald.Grpc.CreateCallInvoker().AsyncUnaryCall(new Method<byte[], byte[]>(MethodType.Unary, service, method, Bytes, Bytes), null, new CallOptions(headers), request).ResponseAsync;

    private async Task RawServerStreaming(string service, string method, byte[] request, Metadata headers)
    {
        using var call = herald.Grpc.CreateCallInvoker().AsyncServerStreamingCall(
            new Method<byte[], byte[]>(MethodType.ServerStreaming, service, method, Bytes, Bytes), null, new CallOptions(headers, deadline: DateTime.UtcNow.AddSeconds(10)), request);
        while (await call.ResponseStream.MoveNext(CancellationToken.None)) { }
    }

    [Fact]
    public async Task Twenty_racing_creates_with_one_idempotency_key_make_one_message()
    {
        var app = await herald.Admin.CreateApplicationAsync();
        var messages = new Herald.Grpc.V1.Messages.MessagesClient(herald.Grpc);
        var headers = HeraldAppFixture.Bearer(herald.AdminKey);
        headers.Add("idempotency-key", Guid.NewGuid().ToString());
        var request = new CreateMessageRequest { AppId = app, EventType = "order.placed", PayloadJson = """{"order":1}""" };

        var results = await Task.WhenAll(Enumerable.Range(0, 20).Select(_ => messages.CreateAsync(request, headers).ResponseAsync));

        Assert.Single(results.Select(r => r.Id).Distinct());
        Assert.Single((await messages.ListAsync(new ListMessagesRequest { AppId = app }, headers)).Data);
        var other = new CreateMessageRequest { AppId = app, EventType = "order.placed", PayloadJson = """{"order":2}""" };
        var reused = await Assert.ThrowsAsync<RpcException>(() => messages.CreateAsync(other, headers).ResponseAsync);
        Assert.Equal(StatusCode.FailedPrecondition, reused.StatusCode);
    }

    [Fact]
    public async Task A_key_over_its_rate_limit_gets_resource_exhausted()
    {
        var app = await herald.Admin.CreateApplicationAsync();
        var auth = HeraldAppFixture.Bearer(await herald.Admin.CreateApplicationKeyAsync(app));
        var applications = new Applications.ApplicationsClient(herald.Grpc);
        var statuses = new System.Collections.Concurrent.ConcurrentBag<StatusCode>();
        var others = new System.Collections.Concurrent.ConcurrentBag<string>();

        await Parallel.ForEachAsync(Enumerable.Range(0, HeraldAppFixture.RateLimit * 4), new ParallelOptions { MaxDegreeOfParallelism = 32 }, async (_, _) =>
        {
            try
            {
                await applications.GetAsync(new ApplicationRef { AppId = app }, auth);
                statuses.Add(StatusCode.OK);
            }
            catch (RpcException exception)
            {
                statuses.Add(exception.StatusCode);
                if (exception.StatusCode != StatusCode.ResourceExhausted) others.Add(exception.Status.ToString());
            }
        });

        Assert.Contains(StatusCode.ResourceExhausted, statuses);
        Assert.True(statuses.All(s => s is StatusCode.OK or StatusCode.ResourceExhausted),
            string.Join(", ", statuses.CountBy(s => s)) + "; " + string.Join(" | ", others.Distinct()));
    }

    [Fact]
    public async Task Reflection_lists_the_services_and_health_reports_serving()
    {
        var reflection = new ServerReflection.ServerReflectionClient(herald.Grpc);
        using var call = reflection.ServerReflectionInfo();
        await call.RequestStream.WriteAsync(new ServerReflectionRequest { ListServices = "" });
        await call.RequestStream.CompleteAsync();
        Assert.True(await call.ResponseStream.MoveNext(CancellationToken.None));
        var services = call.ResponseStream.Current.ListServicesResponse.Service.Select(s => s.Name).ToList();
        Assert.Contains("herald.v1.Messages", services);
        Assert.Contains("herald.v1.Endpoints", services);
        Assert.Contains("grpc.health.v1.Health", services);

        var health = await new Health.HealthClient(herald.Grpc).CheckAsync(new HealthCheckRequest());
        Assert.Equal(HealthCheckResponse.Types.ServingStatus.Serving, health.Status);
    }
}
