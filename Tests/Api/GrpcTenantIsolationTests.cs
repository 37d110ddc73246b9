using Grpc.Core;
using Herald.Grpc.V1;
using Herald.Tests.Harness;

namespace Herald.Tests.Api;

/// <summary>The isolation matrix over gRPC: every call on application A's resources with application B's key is
/// NOT_FOUND, and nothing of A changes.</summary>
[Collection(HeraldAppCollection.Name)]
public sealed class GrpcTenantIsolationTests(HeraldAppFixture herald)
{
    [Fact]
    public async Task Another_applications_key_finds_nothing_of_this_application_over_grpc()
    {
        var a = await herald.Admin.CreateApplicationAsync("grpc tenant A");
        var b = await herald.Admin.CreateApplicationAsync("grpc tenant B");
        var keyA = (await herald.Admin.PostOkAsync($"/api/v1/apps/{a}/api-keys", new { name = "a" })).GetProperty("id").GetString()!;
        var (endpoint, _) = await herald.Admin.CreateEndpointAsync(a, new Uri("https://example.com/a"));
        await herald.Admin.PostOkAsync($"/api/v1/apps/{a}/event-types", new { name = "invoice.paid" });
        var message = await herald.Admin.SendMessageAsync(a, "invoice.paid", new { secret = "of A" });
        var asB = HeraldAppFixture.Bearer(await herald.Admin.CreateApplicationKeyAsync(b));

        var applications = new Applications.ApplicationsClient(herald.Grpc);
        var keys = new ApiKeys.ApiKeysClient(herald.Grpc);
        var types = new EventTypes.EventTypesClient(herald.Grpc);
        var endpoints = new Endpoints.EndpointsClient(herald.Grpc);
        var messages = new Herald.Grpc.V1.Messages.MessagesClient(herald.Grpc);

        (string Call, Func<Task> Run)[] matrix =
        [
            ("Applications.Get", () => applications.GetAsync(new ApplicationRef { AppId = a }, asB).ResponseAsync),
            ("Applications.Update", () => applications.UpdateAsync(new UpdateApplicationRequest { AppId = a, Application = new() { Name = "hijacked" } }, asB).ResponseAsync),
            ("Applications.Delete", () => applications.DeleteAsync(new ApplicationRef { AppId = a }, asB).ResponseAsync),
            ("ApiKeys.Create", () => keys.CreateAsync(new CreateApiKeyRequest { AppId = a, Name = "mine" }, asB).ResponseAsync),
            ("ApiKeys.List", () => keys.ListAsync(new ListApiKeysRequest { AppId = a }, asB).ResponseAsync),
            ("ApiKeys.Revoke", () => keys.RevokeAsync(new ApiKeyRef { AppId = a, KeyId = keyA }, asB).ResponseAsync),
            ("ApiKeys.Revoke via B", () => keys.RevokeAsync(new ApiKeyRef { AppId = b, KeyId = keyA }, asB).ResponseAsync),
            ("EventTypes.Create", () => types.CreateAsync(new EventTypeRequest { AppId = a, Name = "x.y" }, asB).ResponseAsync),
            ("EventTypes.List", () => types.ListAsync(new ListEventTypesRequest { AppId = a }, asB).ResponseAsync),
            ("EventTypes.Get", () => types.GetAsync(new EventTypeRef { AppId = a, Name = "invoice.paid" }, asB).ResponseAsync),
            ("EventTypes.Update", () => types.UpdateAsync(new EventTypeRequest { AppId = a, Name = "invoice.paid", Description = "hijacked" }, asB).ResponseAsync),
            ("EventTypes.Archive", () => types.ArchiveAsync(new EventTypeRef { AppId = a, Name = "invoice.paid" }, asB).ResponseAsync),
            ("Endpoints.Create", () => endpoints.CreateAsync(new CreateEndpointRequest { AppId = a, Endpoint = new() { Url = "https://evil.example.com" } }, asB).ResponseAsync),
            ("Endpoints.List", () => endpoints.ListAsync(new ListEndpointsRequest { AppId = a }, asB).ResponseAsync),
            ("Endpoints.Get", () => endpoints.GetAsync(new EndpointRef { AppId = a, EndpointId = endpoint }, asB).ResponseAsync),
            ("Endpoints.Get via B", () => endpoints.GetAsync(new EndpointRef { AppId = b, EndpointId = endpoint }, asB).ResponseAsync),
            ("Endpoints.Update", () => endpoints.UpdateAsync(new UpdateEndpointRequest { AppId = a, EndpointId = endpoint, Endpoint = new() { Url = "https://evil.example.com" } }, asB).ResponseAsync),
            ("Endpoints.Update via B", () => endpoints.UpdateAsync(new UpdateEndpointRequest { AppId = b, EndpointId = endpoint, Endpoint = new() { Url = "https://evil.example.com" } }, asB).ResponseAsync),
            ("Endpoints.Delete", () => endpoints.DeleteAsync(new EndpointRef { AppId = a, EndpointId = endpoint }, asB).ResponseAsync),
            ("Endpoints.Delete via B", () => endpoints.DeleteAsync(new EndpointRef { AppId = b, EndpointId = endpoint }, asB).ResponseAsync),
            ("Endpoints.GetSecret", () => endpoints.GetSecretAsync(new EndpointRef { AppId = a, EndpointId = endpoint }, asB).ResponseAsync),
            ("Endpoints.GetSecret via B", () => endpoints.GetSecretAsync(new EndpointRef { AppId = b, EndpointId = endpoint }, asB).ResponseAsync),
            ("Endpoints.RotateSecret", () => endpoints.RotateSecretAsync(new RotateSecretRequest { AppId = a, EndpointId = endpoint }, asB).ResponseAsync),
            ("Messages.Create", () => messages.CreateAsync(new CreateMessageRequest { AppId = a, EventType = "invoice.paid", PayloadJson = "{}" }, asB).ResponseAsync),
            ("Messages.List", () => messages.ListAsync(new ListMessagesRequest { AppId = a }, asB).ResponseAsync),
            ("Messages.Get", () => messages.GetAsync(new MessageRef { AppId = a, MessageId = message }, asB).ResponseAsync),
            ("Messages.Get via B", () => messages.GetAsync(new MessageRef { AppId = b, MessageId = message }, asB).ResponseAsync),
            ("Messages.ListAttempts", () => messages.ListAttemptsAsync(new MessageRef { AppId = a, MessageId = message }, asB).ResponseAsync),
            ("Messages.ListAttempts via B", () => messages.ListAttemptsAsync(new MessageRef { AppId = b, MessageId = message }, asB).ResponseAsync),
            ("Messages.ListEndpointAttempts", () => messages.ListEndpointAttemptsAsync(new EndpointRef { AppId = a, EndpointId = endpoint }, asB).ResponseAsync),
        ];

        foreach (var (call, run) in matrix)
        {
            var error = await Assert.ThrowsAsync<RpcException>(run);
            Assert.True(error.StatusCode == StatusCode.NotFound, $"{call} with B's key: {error.Status}");
        }

        var (_, appA, _) = await herald.Admin.GetAsync($"/api/v1/apps/{a}");
        Assert.Equal("grpc tenant A", appA.GetProperty("name").GetString());
        var (_, endpointA, _) = await herald.Admin.GetAsync($"/api/v1/apps/{a}/endpoints/{endpoint}");
        Assert.Equal("https://example.com/a", endpointA.GetProperty("url").GetString());
        var (_, typeA, _) = await herald.Admin.GetAsync($"/api/v1/apps/{a}/event-types/invoice.paid");
        Assert.False(typeA.GetProperty("archived").GetBoolean());
        var (_, keysA, _) = await herald.Admin.GetAsync($"/api/v1/apps/{a}/api-keys");
        Assert.Equal(System.Text.Json.JsonValueKind.Null, keysA.GetProperty("data")[0].GetProperty("revokedAt").ValueKind);
        var (_, messagesA, _) = await herald.Admin.GetAsync($"/api/v1/apps/{a}/messages");
        Assert.Equal(1, messagesA.GetProperty("data").GetArrayLength());
    }
}
