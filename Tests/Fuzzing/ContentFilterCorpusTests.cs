using Herald.Fuzzing.Harnesses;
using Herald.Tests.Harness;
using FuzzReplay = Herald.Fuzzing.Replay;

namespace Herald.Tests.Fuzzing;

/// <summary>Every content filter in the fuzz corpus that compiles is handed to PostgreSQL as the endpoint's stored path
/// is, and evaluated against payloads: what Herald writes, PostgreSQL must parse (a filter stored by create-endpoint and
/// then refused by the database would be a 5xx) and evaluate without error.</summary>
[Collection(HeraldAppCollection.Name)]
public sealed class ContentFilterCorpusTests(HeraldAppFixture herald)
{
    [Fact]
    public async Task Every_compiled_corpus_filter_is_a_path_postgresql_parses_and_evaluates()
    {
        var harness = Catalog.Find("content-filter")!;
        var folders = new[] { FuzzReplay.CorpusFolder(harness), FuzzReplay.CrashersFolder(harness) }.Where(Directory.Exists);
        var compiled = 0;
        await using var connection = await herald.OpenDatabaseAsync();
        foreach (var file in folders.SelectMany(Directory.GetFiles).Order(StringComparer.Ordinal))
        {
            if (ContentFilterHarness.CompiledPath(File.ReadAllBytes(file)) is not { } path) continue;
            compiled++;
            foreach (var payload in (string[])["{}", """{"a":1,"type":"invoice.paid","data":{"amount":150,"currency":"usd"}}""", """[1,"x",null]"""])
            {
                await using var query = new Npgsql.NpgsqlCommand("SELECT herald_payload_matches($1::json, $2::jsonpath)", connection);
                query.Parameters.Add(new() { Value = payload });
                query.Parameters.Add(new() { Value = path });
                Assert.IsType<bool>(await query.ExecuteScalarAsync());
            }
        }
        Assert.True(compiled >= 5, $"Only {compiled} corpus filters compiled.");
    }
}
