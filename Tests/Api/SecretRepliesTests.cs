using System.Net;
using Grpc.Core;
using Herald.Grpc.V1;
using Herald.Tests.Harness;
using Npgsql;

namespace Herald.Tests.Api;

/// <summary>A response holding a secret (a new API key, an endpoint's header values) is not kept by the idempotency
/// store: the repeat of its request is refused with 409 / ALREADY_EXISTS, and the secret is nowhere in the table.</summary>
[Collection(HeraldAppCollection.Name)]
public sealed class SecretRepliesTests(HeraldAppFixture herald)
{
    [Fact]
    public async Task Repeating_an_api_key_creation_is_409_and_the_key_is_not_in_the_idempotency_table()
    {
        var app = await herald.Admin.CreateApplicationAsync("secret-replies");
        var idempotencyKey = Guid.NewGuid().ToString();
        var path = $"/api/v1/apps/{app}/api-keys";

        var (created, body, _) = await herald.Admin.PostAsync(path, new { name = "once" }, idempotencyKey);
        var (repeated, problem, _) = await herald.Admin.PostAsync(path, new { name = "once" }, idempotencyKey);

        Assert.Equal(HttpStatusCode.Created, created);
        var apiKey = body.GetProperty("key").GetString()!;
        Assert.Equal(HttpStatusCode.Conflict, repeated);
        Assert.Equal(409, problem.GetProperty("status").GetInt32());
        Assert.Contains("secret", problem.GetProperty("title").GetString());
        // One key was created, and it works.
        var (_, keys, _) = await herald.Admin.GetAsync(path);
        Assert.Equal(1, keys.GetProperty("data").GetArrayLength());
        using var client = herald.Client(apiKey);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync($"/api/v1/apps/{app}/endpoints")).Status);
        Assert.Equal(0, await IdempotencyRowsContainingAsync(apiKey));
    }

    [Fact]
    public async Task An_endpoint_with_header_values_is_not_replayed_and_one_without_is()
    {
        var app = await herald.Admin.CreateApplicationAsync("secret-replies-endpoints");
        var path = $"/api/v1/apps/{app}/endpoints";
        var credential = "Bearer " + Guid.NewGuid().ToString("N");
        var withHeaders = new { url = "https://example.com/with-headers", headers = new Dictionary<string, string> { ["authorization"] = credential } };
        var withHeadersKey = Guid.NewGuid().ToString();
        var plain = new { url = "https://example.com/plain" };
        var plainKey = Guid.NewGuid().ToString();

        var created = await herald.Admin.PostAsync(path, withHeaders, withHeadersKey);
        Assert.Equal(HttpStatusCode.Created, created.Status);
        var (repeated, problem, conflict) = await herald.Admin.PostAsync(path, withHeaders, withHeadersKey);
        var first = await herald.Admin.PostAsync(path, plain, plainKey);
        var replay = await herald.Admin.PostAsync(path, plain, plainKey);

        Assert.Equal(HttpStatusCode.Conflict, repeated);
        Assert.Contains($"/api/v1/apps/{app}/endpoints/", problem.GetProperty("title").GetString());
        // Named as a header too, so a client (the operator) can take the endpoint over.
        Assert.Equal($"/api/v1/apps/{app}/endpoints/{created.Body.GetProperty("id").GetString()}", conflict.Headers.Location?.OriginalString);
        Assert.Equal(HttpStatusCode.Created, replay.Status);
        Assert.True(replay.Response.Headers.Contains("idempotent-replayed"));
        Assert.Equal(first.Body.GetProperty("id").GetString(), replay.Body.GetProperty("id").GetString());
        Assert.Equal(0, await IdempotencyRowsContainingAsync(credential));
    }

    [Fact]
    public async Task Over_grpc_the_repeat_of_a_key_creation_is_already_exists()
    {
        var app = await herald.Admin.CreateApplicationAsync("secret-replies-grpc");
        var keys = new ApiKeys.ApiKeysClient(herald.Grpc);
        var metadata = HeraldAppFixture.Bearer(herald.AdminKey);
        metadata.Add("idempotency-key", Guid.NewGuid().ToString());

        var created = await keys.CreateAsync(new CreateApiKeyRequest { AppId = app, Name = "grpc once" }, metadata);
        var repeated = await Assert.ThrowsAsync<RpcException>(() => keys.CreateAsync(new CreateApiKeyRequest { AppId = app, Name = "grpc once" }, metadata).ResponseAsync);

        Assert.Equal(StatusCode.AlreadyExists, repeated.StatusCode);
        Assert.Contains("secret", repeated.Status.Detail);
        Assert.Equal(0, await IdempotencyRowsContainingAsync(created.Key));
    }

    // The gRPC rows hold protobuf bytes in base64, the REST rows JSON: neither may hold the secret in any form.
    private async Task<int> IdempotencyRowsContainingAsync(string secret)
    {
        await using var database = await herald.OpenDatabaseAsync();
        await using var query = new NpgsqlCommand("SELECT response FROM idempotency_keys WHERE response IS NOT NULL", database);
        await using var reader = await query.ExecuteReaderAsync();
        var found = 0;
        while (await reader.ReadAsync())
        {
            var response = reader.GetString(0);
            var decoded = new byte[response.Length];
            var bytes = Convert.TryFromBase64String(response, decoded, out var length) ? System.Text.Encoding.UTF8.GetString(decoded, 0, length) : "";
            if (response.Contains(secret, StringComparison.Ordinal) || bytes.Contains(secret, StringComparison.Ordinal)) found++;
        }
        return found;
    }
}
