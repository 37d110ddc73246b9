using System.Net;
using System.Text.Json;
using Grpc.Core;
using Herald.Grpc.V1;
using Herald.Tests.Harness;

namespace Herald.Tests.Api;

/// <summary>Event type schemas and examples (REST and gRPC), and create-message's payload validation against them.</summary>
[Collection(HeraldAppCollection.Name)]
public sealed class EventTypesSchemaTests(HeraldAppFixture herald)
{
    private const string Schema = """
        {"$schema":"https://json-schema.org/draft/2020-12/schema","type":"object","required":["invoice","amount"],
         "properties":{"invoice":{"type":"string"},"amount":{"$ref":"#/$defs/cents"}},
         "$defs":{"cents":{"type":"integer","minimum":0}}}
        """;

    private static object Parse(string json) => JsonDocument.Parse(json).RootElement.Clone();

    private Metadata Admin => HeraldAppFixture.Bearer(herald.AdminKey);

    [Fact]
    public async Task A_schema_and_examples_are_stored_and_shown_and_kept_or_removed_by_updates()
    {
        var app = await herald.Admin.CreateApplicationAsync();
        var created = await herald.Admin.PostOkAsync($"/api/v1/apps/{app}/event-types", new
        {
            name = "invoice.paid",
            description = "Paid",
            schema = Parse(Schema),
            examples = new object[] { new { invoice = "in_1", amount = 4200 }, new { invoice = "in_2", amount = 0 } },
        });
        Assert.Equal("object", created.GetProperty("schema").GetProperty("type").GetString());
        Assert.Equal(2, created.GetProperty("examples").GetArrayLength());

        var (_, read, _) = await herald.Admin.GetAsync($"/api/v1/apps/{app}/event-types/invoice.paid");
        Assert.Equal(JsonSerializer.Serialize(Parse(Schema)), read.GetProperty("schema").GetRawText());
        Assert.Equal("in_2", read.GetProperty("examples")[1].GetProperty("invoice").GetString());
        var (_, list, _) = await herald.Admin.GetAsync($"/api/v1/apps/{app}/event-types");
        Assert.Equal(4200, list.GetProperty("data")[0].GetProperty("examples")[0].GetProperty("amount").GetInt32());

        // Left out: kept. A new description alone changes neither.
        var (status, updated, _) = await herald.Admin.PutAsync($"/api/v1/apps/{app}/event-types/invoice.paid", new { description = "An invoice was paid" });
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("object", updated.GetProperty("schema").GetProperty("type").GetString());
        Assert.Equal(2, updated.GetProperty("examples").GetArrayLength());

        // A stricter schema the kept examples break is refused, naming the example and the path; nothing changes.
        var stricter = """{"type":"object","properties":{"amount":{"type":"integer","minimum":1}}}""";
        (status, var problem, _) = await herald.Admin.PutAsync($"/api/v1/apps/{app}/event-types/invoice.paid", new { schema = Parse(stricter) });
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Contains("/amount", problem.GetProperty("errors").GetProperty("examples[1]")[0].GetString());
        Assert.Contains("minimum", problem.GetProperty("errors").GetProperty("examples[1]")[0].GetString());
        Assert.False(problem.GetProperty("errors").TryGetProperty("examples[0]", out _));
        (_, read, _) = await herald.Admin.GetAsync($"/api/v1/apps/{app}/event-types/invoice.paid");
        Assert.Equal(JsonSerializer.Serialize(Parse(Schema)), read.GetProperty("schema").GetRawText());

        // null removes each.
        (status, updated, _) = await herald.Admin.PutAsync($"/api/v1/apps/{app}/event-types/invoice.paid", """{"schema":null,"examples":null}""");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(JsonValueKind.Null, updated.GetProperty("schema").ValueKind);
        Assert.Equal(0, updated.GetProperty("examples").GetArrayLength());
    }

    [Theory]
    [InlineData("""{"type":"nonsense"}""", "nonsense")]
    [InlineData("""{"minimum":"x"}""", "minimum")]
    [InlineData("""{"properties":{"a":{"$ref":"https://example.com/remote.json"}}}""", "/properties/a/$ref")]
    [InlineData("""{"$ref":"other.json"}""", "nothing is fetched")]
    [InlineData("""{"$schema":"http://json-schema.org/draft-07/schema#","type":"object"}""", "2020-12")]
    [InlineData("""{"$ref":"#/$defs/missing"}""", "missing")]
    [InlineData("""{"pattern":"("}""", "(")]
    [InlineData("""[1,2]""", "object")]
    public async Task Schemas_that_are_not_valid_2020_12_or_reach_outside_are_400_naming_the_problem(string schema, string named)
    {
        var app = await herald.Admin.CreateApplicationAsync();
        var (status, problem, _) = await herald.Admin.PostAsync($"/api/v1/apps/{app}/event-types", $$"""{"name":"invoice.paid","schema":{{schema}}}""");
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Contains(named, problem.GetProperty("errors").GetProperty("schema")[0].GetString());
        Assert.Equal(HttpStatusCode.NotFound, (await herald.Admin.GetAsync($"/api/v1/apps/{app}/event-types/invoice.paid")).Status);
    }

    [Fact]
    public async Task Oversized_schemas_and_failing_or_malformed_examples_are_400_naming_which()
    {
        var app = await herald.Admin.CreateApplicationAsync();
        var big = new { type = "object", description = new string('x', 70 * 1024) };
        var (status, problem, _) = await herald.Admin.PostAsync($"/api/v1/apps/{app}/event-types", new { name = "big.one", schema = big });
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Contains("64 KiB", problem.GetProperty("errors").GetProperty("schema")[0].GetString());

        (status, problem, _) = await herald.Admin.PostAsync($"/api/v1/apps/{app}/event-types", new
        {
            name = "invoice.paid",
            schema = Parse(Schema),
            examples = new object[] { new { invoice = "in_1", amount = 1 }, new { invoice = "in_2", amount = "lots" }, 7 },
        });
        Assert.Equal(HttpStatusCode.BadRequest, status);
        var errors = problem.GetProperty("errors");
        Assert.False(errors.TryGetProperty("examples[0]", out _));
        var second = errors.GetProperty("examples[1]")[0].GetString()!;
        Assert.Contains("/amount", second);
        Assert.Contains("type", second);
        Assert.Contains("object", errors.GetProperty("examples[2]")[0].GetString());

        (status, problem, _) = await herald.Admin.PostAsync($"/api/v1/apps/{app}/event-types", new { name = "invoice.paid", examples = new { } });
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.True(problem.GetProperty("errors").TryGetProperty("examples", out _));
        (status, problem, _) = await herald.Admin.PostAsync($"/api/v1/apps/{app}/event-types",
            new { name = "invoice.paid", examples = Enumerable.Range(0, 11).Select(i => new { i }).ToArray() });
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Contains("10", problem.GetProperty("errors").GetProperty("examples")[0].GetString());
    }

    [Fact]
    public async Task Payloads_are_validated_against_their_type_only_when_the_application_asks()
    {
        var strict = await herald.Admin.CreateApplicationAsync(settings: new { name = "strict", validatePayloads = true });
        var lax = await herald.Admin.CreateApplicationAsync(settings: new { name = "lax" });
        var (_, shown, _) = await herald.Admin.GetAsync($"/api/v1/apps/{strict}");
        Assert.True(shown.GetProperty("validatePayloads").GetBoolean());
        foreach (var app in new[] { strict, lax })
        {
            await herald.Admin.PostOkAsync($"/api/v1/apps/{app}/event-types", new { name = "invoice.paid", schema = Parse(Schema) });
            await herald.Admin.PostOkAsync($"/api/v1/apps/{app}/event-types", new { name = "invoice.noted" });
        }

        var (status, problem, _) = await herald.Admin.PostAsync($"/api/v1/apps/{strict}/messages",
            new { eventType = "invoice.paid", payload = new { invoice = 5, amount = -1 } });
        Assert.Equal(HttpStatusCode.BadRequest, status);
        var errors = problem.GetProperty("errors");
        Assert.Contains("type", errors.GetProperty("payload/invoice")[0].GetString());
        Assert.Contains("minimum", errors.GetProperty("payload/amount")[0].GetString());
        (status, problem, _) = await herald.Admin.PostAsync($"/api/v1/apps/{strict}/messages", new { eventType = "invoice.paid", payload = new { invoice = "in_1" } });
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Contains("required", problem.GetProperty("errors").GetProperty("payload")[0].GetString());
        Assert.Equal(0, await CountMessagesAsync(strict));

        // Valid, and a type without a schema, pass; the application that did not ask checks nothing.
        Assert.Equal(HttpStatusCode.Accepted, (await herald.Admin.PostAsync($"/api/v1/apps/{strict}/messages",
            new { eventType = "invoice.paid", payload = new { invoice = "in_1", amount = 4200 } })).Status);
        Assert.Equal(HttpStatusCode.Accepted, (await herald.Admin.PostAsync($"/api/v1/apps/{strict}/messages",
            new { eventType = "invoice.noted", payload = new { anything = true } })).Status);
        Assert.Equal(HttpStatusCode.Accepted, (await herald.Admin.PostAsync($"/api/v1/apps/{lax}/messages",
            new { eventType = "invoice.paid", payload = new { invoice = 5, amount = -1 } })).Status);

        // Turned on later: every API replica refuses within its cache's fresh period.
        await herald.Admin.PutAsync($"/api/v1/apps/{lax}", new { name = "lax", validatePayloads = true });
        Assert.True(await RefusedOnEveryTryAsync(lax, new { invoice = 5, amount = -1 }), "validatePayloads was not honoured within 15 s");

        // A schema changed later is compiled again: the loosened type now takes what it refused.
        await herald.Admin.PutAsync($"/api/v1/apps/{lax}/event-types/invoice.paid", new { schema = Parse("""{"type":"object"}""") });
        Assert.True(await Eventually.HoldsAsync(async () =>
        {
            for (var i = 0; i < 4; i++)
            {
                if ((await herald.Admin.PostAsync($"/api/v1/apps/{lax}/messages", new { eventType = "invoice.paid", payload = new { invoice = 5 } })).Status != HttpStatusCode.Accepted)
                    return false;
            }
            return true;
        }, TimeSpan.FromSeconds(15)), "the loosened schema was not used within 15 s");
    }

    [Fact]
    public async Task A_pattern_that_backtracks_without_end_is_a_400_within_the_budget_not_a_hung_request()
    {
        var app = await herald.Admin.CreateApplicationAsync(settings: new { name = "redos", validatePayloads = true });
        await herald.Admin.PostOkAsync($"/api/v1/apps/{app}/event-types", new
        {
            name = "evil.pattern",
            schema = Parse("""{"type":"object","properties":{"s":{"type":"string","pattern":"^(a+)+$"}}}"""),
        });
        var started = DateTime.UtcNow;
        var (status, problem, _) = await herald.Admin.PostAsync($"/api/v1/apps/{app}/messages",
            new { eventType = "evil.pattern", payload = new { s = new string('a', 40) + "!" } });
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Contains("pattern", problem.GetProperty("errors").EnumerateObject().First().Value[0].GetString());
        Assert.True(DateTime.UtcNow - started < TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task Grpc_carries_schemas_examples_and_the_application_setting_with_the_same_validation()
    {
        var applications = new Applications.ApplicationsClient(herald.Grpc);
        var types = new EventTypes.EventTypesClient(herald.Grpc);
        var messages = new Herald.Grpc.V1.Messages.MessagesClient(herald.Grpc);
        var app = await applications.CreateAsync(new CreateApplicationRequest { Application = new() { Name = "grpc schemas", ValidatePayloads = true } }, Admin);
        Assert.True(app.ValidatePayloads);

        var created = await types.CreateAsync(new EventTypeRequest
        {
            AppId = app.Id, Name = "invoice.paid", SchemaJson = Schema, ExamplesJson = """[{"invoice":"in_1","amount":1}]""",
        }, Admin);
        Assert.Equal(Schema, created.SchemaJson);
        Assert.Equal("""{"invoice":"in_1","amount":1}""", Assert.Single(created.ExamplesJson));
        var read = await types.GetAsync(new EventTypeRef { AppId = app.Id, Name = "invoice.paid" }, Admin);
        Assert.Equal(Schema, read.SchemaJson);

        var badExample = await Assert.ThrowsAsync<RpcException>(() => types.UpdateAsync(new EventTypeRequest
        {
            AppId = app.Id, Name = "invoice.paid", ExamplesJson = """[{"invoice":"in_1","amount":"x"}]""",
        }, Admin).ResponseAsync);
        Assert.Equal(StatusCode.InvalidArgument, badExample.StatusCode);
        Assert.Contains("examples[0]", badExample.Status.Detail);
        var remote = await Assert.ThrowsAsync<RpcException>(() => types.CreateAsync(new EventTypeRequest
        {
            AppId = app.Id, Name = "invoice.remote", SchemaJson = """{"$ref":"https://example.com/s.json"}""",
        }, Admin).ResponseAsync);
        Assert.Equal(StatusCode.InvalidArgument, remote.StatusCode);
        Assert.Contains("schema", remote.Status.Detail);
        var notJson = await Assert.ThrowsAsync<RpcException>(() => types.CreateAsync(new EventTypeRequest
        {
            AppId = app.Id, Name = "invoice.broken", SchemaJson = "{nope",
        }, Admin).ResponseAsync);
        Assert.Equal(StatusCode.InvalidArgument, notJson.StatusCode);
        Assert.Contains("schema_json", notJson.Status.Detail);

        var invalid = await Assert.ThrowsAsync<RpcException>(() => messages.CreateAsync(new CreateMessageRequest
        {
            AppId = app.Id, EventType = "invoice.paid", PayloadJson = """{"invoice":"in_1","amount":"x"}""",
        }, Admin).ResponseAsync);
        Assert.Equal(StatusCode.InvalidArgument, invalid.StatusCode);
        Assert.Contains("payload/amount", invalid.Status.Detail);
        var accepted = await messages.CreateAsync(new CreateMessageRequest
        {
            AppId = app.Id, EventType = "invoice.paid", PayloadJson = """{"invoice":"in_1","amount":2}""",
        }, Admin);
        Assert.StartsWith("msg_", accepted.Id);

        // An empty schema_json on update removes the schema; unset keeps the examples.
        var cleared = await types.UpdateAsync(new EventTypeRequest { AppId = app.Id, Name = "invoice.paid", SchemaJson = "" }, Admin);
        Assert.Equal("", cleared.SchemaJson);
        Assert.Single(cleared.ExamplesJson);
    }

    private async Task<bool> RefusedOnEveryTryAsync(string app, object payload) => await Eventually.HoldsAsync(async () =>
    {
        // Several in a row, so each API replica has been asked.
        for (var i = 0; i < 4; i++)
        {
            if ((await herald.Admin.PostAsync($"/api/v1/apps/{app}/messages", new { eventType = "invoice.paid", payload })).Status != HttpStatusCode.BadRequest)
                return false;
        }
        return true;
    }, TimeSpan.FromSeconds(15));

    private async Task<long> CountMessagesAsync(string app)
    {
        await using var database = await herald.OpenDatabaseAsync();
        await using var count = new Npgsql.NpgsqlCommand("SELECT count(*) FROM messages WHERE application_id = $1", database);
        count.Parameters.Add(new() { Value = app });
        return (long)(await count.ExecuteScalarAsync())!;
    }
}
