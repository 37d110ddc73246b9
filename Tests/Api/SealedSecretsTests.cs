extern alias api;

using System.Diagnostics;
using System.Security.Cryptography;
using api::Herald.ApiService.Endpoints;
using Aspire.Hosting.Testing;
using Herald.Secrets;
using Herald.Tests.Harness;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using StandardWebhooks;

namespace Herald.Tests.Api;

/// <summary>Signing secrets and header values are sealed in PostgreSQL: a dump holds none of them, the API and the
/// Processor still read them, and a rotation of the sealing key leaves every row readable.</summary>
[Collection(HeraldAppCollection.Name)]
public sealed class SealedSecretsTests(HeraldAppFixture herald)
{
    private static readonly TimeSpan DeliveryTimeout = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task A_database_dump_holds_no_signing_secret_or_header_value_in_clear()
    {
        var app = await herald.Admin.CreateApplicationAsync("sealed-dump");
        var secret = NewSecret();
        var credential = "Bearer dump-" + Guid.NewGuid().ToString("N");
        var url = herald.Receiver.UrlFor("sealed-" + Guid.NewGuid().ToString("N"));
        var endpoint = (await herald.Admin.PostOkAsync($"/api/v1/apps/{app}/endpoints",
            new { url, secret, headers = new Dictionary<string, string> { ["Authorization"] = credential } })).GetProperty("id").GetString()!;

        var dump = await DumpAsync();

        Assert.Contains(endpoint, dump, StringComparison.Ordinal);
        Assert.Contains("sealed:v1:", dump, StringComparison.Ordinal);
        Assert.DoesNotContain(secret, dump, StringComparison.Ordinal);
        Assert.DoesNotContain(secret["whsec_".Length..], dump, StringComparison.Ordinal);
        Assert.DoesNotContain(credential, dump, StringComparison.Ordinal);
        // The header's name is not a secret and stays readable; its value is what is sealed.
        Assert.Contains("Authorization", dump, StringComparison.Ordinal);

        // Read back through the API, and used by the Processor to sign and to send the header.
        Assert.Equal(secret, (await herald.Admin.GetAsync($"/api/v1/apps/{app}/endpoints/{endpoint}/secret")).Body.GetProperty("key").GetString());
        Assert.Equal(credential, (await herald.Admin.GetAsync($"/api/v1/apps/{app}/endpoints/{endpoint}")).Body.GetProperty("headers").GetProperty("Authorization").GetString());
        var messageId = await herald.Admin.SendMessageAsync(app, "sealed.check", new { n = 1 });
        var webhook = await herald.Receiver.WaitForAsync(messageId, DeliveryTimeout, url.AbsolutePath);
        new StandardWebhook(secret).Verify(webhook.Body, webhook.HeaderDictionary());
        Assert.Equal(credential, webhook.Headers["authorization"]);
    }

    [Fact]
    public async Task Rows_from_before_sealing_and_rows_sealed_under_a_rotated_out_key_are_resealed_and_stay_usable()
    {
        var app = await herald.Admin.CreateApplicationAsync("sealed-rotation");
        var legacyUrl = herald.Receiver.UrlFor("legacy-" + Guid.NewGuid().ToString("N"));
        var rotatedUrl = herald.Receiver.UrlFor("rotated-" + Guid.NewGuid().ToString("N"));
        var (legacy, _) = await herald.Admin.CreateEndpointAsync(app, legacyUrl);
        var (rotated, _) = await herald.Admin.CreateEndpointAsync(app, rotatedUrl);
        var (legacySecret, rotatedSecret) = (NewSecret(), NewSecret());
        var previousKey = "previous-" + Convert.ToHexString(RandomNumberGenerator.GetBytes(24));
        var previous = new SecretSealer([previousKey]);

        // One endpoint as an install before sealing left it (clear), one sealed under a key since rotated out of first place.
        await using (var connection = await herald.OpenDatabaseAsync())
        {
            await SetAsync(connection, legacy, legacySecret, """{"X-Token": "legacy-token"}""");
            await SetAsync(connection, rotated, previous.Seal(rotatedSecret, SealedField.Secret(rotated)),
                $$"""{"X-Token": "{{previous.Seal("rotated-token", SealedField.Header(rotated, "X-Token"))}}"}""");
        }

        // And a key-ring entry of the portal sealed under the previous key. Its root is no element Data Protection knows,
        // so the running API ignores it if it reads the ring meanwhile.
        var keyRingEntry = "herald-test-" + Guid.NewGuid().ToString("N");
        var keyRingField = new SealedField("data protection key", "sealed");
        await using (var connection = await herald.OpenDatabaseAsync())
        await using (var insert = new NpgsqlCommand("INSERT INTO data_protection_keys (name, xml) VALUES ($1, $2)", connection))
        {
            insert.Parameters.Add(new() { Value = keyRingEntry });
            insert.Parameters.Add(new() { Value = $"<herald-test><sealed>{previous.Seal("<secret>ring</secret>", keyRingField)}</sealed></herald-test>" });
            await insert.ExecuteNonQueryAsync();
        }

        // What the API does on start-up once the sealing-keys parameter is "<new key> <previous key>".
        await using var dataSource = NpgsqlDataSource.Create(await herald.App.GetConnectionStringAsync("herald") ?? "");
        var sealer = new SecretSealer([herald.SealingKey, previousKey]);
        var result = await new SecretResealer(dataSource, sealer, NullLogger<SecretResealer>.Instance).ResealAsync(CancellationToken.None);

        Assert.True(result.Secrets >= 2, $"{result}");
        Assert.True(result.Endpoints >= 2, $"{result}");
        Assert.True(result.KeyRing >= 1, $"{result}");
        await using (var connection = await herald.OpenDatabaseAsync())
        await using (var entry = new NpgsqlCommand("DELETE FROM data_protection_keys WHERE name = $1 RETURNING xml", connection))
        {
            entry.Parameters.Add(new() { Value = keyRingEntry });
            var sealedPart = System.Xml.Linq.XElement.Parse((string)(await entry.ExecuteScalarAsync())!).Element("sealed")!.Value;
            Assert.StartsWith(sealer.ActivePrefix, sealedPart, StringComparison.Ordinal);
            Assert.Equal("<secret>ring</secret>", new SecretSealer([herald.SealingKey]).Unseal(sealedPart, keyRingField));
        }
        await using (var connection = await herald.OpenDatabaseAsync())
        {
            foreach (var id in (string[])[legacy, rotated])
            {
                var (secret, headers) = await ReadAsync(connection, id);
                Assert.StartsWith(sealer.ActivePrefix, secret, StringComparison.Ordinal);
                Assert.Contains(sealer.ActivePrefix, headers, StringComparison.Ordinal);
                Assert.DoesNotContain("token", headers.Replace("X-Token", "", StringComparison.Ordinal), StringComparison.Ordinal);
            }
        }

        // The running services, which know only the new key, read both and deliver with them.
        foreach (var (id, url, secret, token) in new[] { (legacy, legacyUrl, legacySecret, "legacy-token"), (rotated, rotatedUrl, rotatedSecret, "rotated-token") })
        {
            Assert.Equal(secret, (await herald.Admin.GetAsync($"/api/v1/apps/{app}/endpoints/{id}/secret")).Body.GetProperty("key").GetString());
            Assert.Equal(token, (await herald.Admin.GetAsync($"/api/v1/apps/{app}/endpoints/{id}")).Body.GetProperty("headers").GetProperty("X-Token").GetString());
        }
        var messageId = await herald.Admin.SendMessageAsync(app, "sealed.rotation", new { n = 1 });
        foreach (var (url, secret, token) in new[] { (legacyUrl, legacySecret, "legacy-token"), (rotatedUrl, rotatedSecret, "rotated-token") })
        {
            var webhook = await herald.Receiver.WaitForAsync(messageId, DeliveryTimeout, url.AbsolutePath);
            new StandardWebhook(secret).Verify(webhook.Body, webhook.HeaderDictionary());
            Assert.Equal(token, webhook.Headers["x-token"]);
        }
    }

    private static string NewSecret() => "whsec_" + Convert.ToBase64String(RandomNumberGenerator.GetBytes(32));

    private static async Task SetAsync(NpgsqlConnection connection, string endpointId, string secret, string headers)
    {
        await using var update = new NpgsqlBatch(connection)
        {
            BatchCommands =
            {
                new("UPDATE endpoint_secrets SET secret = $2 WHERE endpoint_id = $1") { Parameters = { new() { Value = endpointId }, new() { Value = secret } } },
                new("UPDATE endpoints SET headers = $2::jsonb WHERE id = $1") { Parameters = { new() { Value = endpointId }, new() { Value = headers } } },
            },
        };
        await update.ExecuteNonQueryAsync();
    }

    private static async Task<(string Secret, string Headers)> ReadAsync(NpgsqlConnection connection, string endpointId)
    {
        await using var query = new NpgsqlCommand("""
            SELECT s.secret, e.headers::text FROM endpoints e JOIN endpoint_secrets s ON s.endpoint_id = e.id WHERE e.id = $1
            """, connection);
        query.Parameters.Add(new() { Value = endpointId });
        await using var reader = await query.ExecuteReaderAsync();
        Assert.True(await reader.ReadAsync());
        return (reader.GetString(0), reader.GetString(1));
    }

    /// <summary>pg_dump of Herald's database, as an operator's backup would have it.</summary>
    private async Task<string> DumpAsync()
    {
        var connection = new NpgsqlConnectionStringBuilder(await herald.App.GetConnectionStringAsync("herald"));
        var pgDump = Directory.GetFiles("/usr/lib/postgresql", "pg_dump", SearchOption.AllDirectories).Order().LastOrDefault() ?? "pg_dump";
        var start = new ProcessStartInfo(pgDump, ["--host", connection.Host!, "--port", connection.Port.ToString(),
            "--username", connection.Username!, "--dbname", connection.Database!, "--no-owner"])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        start.Environment["PGPASSWORD"] = connection.Password ?? "";
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        Assert.True(process.ExitCode == 0, $"pg_dump failed: {await error}");
        return await output;
    }
}
