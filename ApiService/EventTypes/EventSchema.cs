using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Json.Schema;

namespace Herald.ApiService.EventTypes;

/// <summary>One failing keyword of a payload checked against a schema: where in the payload (a JSON Pointer, "" for the
/// root), which keyword refused it, and its message.</summary>
public sealed record SchemaViolation(string Path, string Keyword, string Message)
{
    public override string ToString() => $"{(Path.Length == 0 ? "/" : Path)}: {Keyword}: {Message}";
}

/// <summary>
/// An event type's JSON Schema (draft 2020-12), compiled once (<see cref="EventSchemaCache"/> keeps it). Nothing is
/// fetched: only references inside the schema itself (<c>#…</c>) are allowed, and each schema is built in a registry of
/// its own, so one application's <c>$id</c> never meets another's.
/// </summary>
public sealed class EventSchema
{
    public const int MaxSchemaBytes = 64 * 1024;
    public const int MaxExamples = 10;
    public const int MaxExamplesBytes = 64 * 1024;

    /// <summary>The only dialect accepted in <c>$schema</c> (which may be left out).</summary>
    public const string Dialect = "https://json-schema.org/draft/2020-12/schema";

    /// <summary>At most this many violations are reported; the first few say what is wrong.</summary>
    private const int MaxViolations = 10;

    /// <summary>A <c>pattern</c> that backtracks without end must not hold a request (or a thread) for long: the API's
    /// default regex timeout (set in Program.cs, since the library names none).</summary>
    public static readonly TimeSpan RegexBudget = TimeSpan.FromSeconds(1);

    private static readonly EvaluationOptions Evaluation = new() { OutputFormat = OutputFormat.List };

    private readonly JsonSchema _schema;

    private EventSchema(string text, JsonSchema schema)
    {
        Text = text;
        _schema = schema;
    }

    /// <summary>The schema's JSON text as stored.</summary>
    public string Text { get; }

    /// <summary>Compiles <paramref name="text"/>, or says (one sentence) why it is not an acceptable schema.</summary>
    public static EventSchema Compile(string text, out string? problem)
    {
        problem = null;
        if (Encoding.UTF8.GetByteCount(text) > MaxSchemaBytes)
        {
            problem = $"At most {MaxSchemaBytes / 1024} KiB of JSON.";
            return null!;
        }
        try
        {
            using var document = JsonDocument.Parse(text);
            var root = document.RootElement;
            if (root.ValueKind is not (JsonValueKind.Object or JsonValueKind.True or JsonValueKind.False))
            {
                problem = "A JSON Schema is an object (or true or false).";
                return null!;
            }
            if (FindProblem(root, "") is { } found)
            {
                problem = found;
                return null!;
            }
            // A registry of its own (never the global one), and no fetching: a reference outside the schema fails here.
            var schema = JsonSchema.Build(root, new BuildOptions { SchemaRegistry = new SchemaRegistry() });
            return new EventSchema(text, schema);
        }
        catch (Exception exception) when (exception is not OutOfMemoryException)
        {
            // The library's refusals (JsonSchemaException, RefResolutionException, a bad pattern's RegexParseException, …)
            // are all about the text the client sent.
            problem = $"Not a valid JSON Schema (draft 2020-12): {exception.Message}";
            return null!;
        }
    }

    /// <summary>The payload's violations of the schema; empty when it is valid.</summary>
    public IReadOnlyList<SchemaViolation> Validate(JsonElement payload)
    {
        EvaluationResults results;
        try
        {
            results = _schema.Evaluate(payload, Evaluation);
        }
        catch (RegexMatchTimeoutException)
        {
            return [new SchemaViolation("", "pattern", $"A pattern of the schema took longer than {RegexBudget.TotalSeconds:0} s to evaluate.")];
        }
        catch (Exception exception) when (exception is not OutOfMemoryException)
        {
            return [new SchemaViolation("", "$schema", $"The schema could not be evaluated: {exception.Message}")];
        }
        if (results.IsValid) return [];
        var violations = new List<SchemaViolation>();
        foreach (var detail in results.Details ?? [])
        {
            if (detail.Errors is null) continue;
            foreach (var (keyword, message) in detail.Errors)
            {
                violations.Add(new SchemaViolation(detail.InstanceLocation.ToString(), keyword, message));
                if (violations.Count == MaxViolations) return violations;
            }
        }
        // Invalid without a message (a false schema at the root, say): still say where.
        if (violations.Count == 0) violations.Add(new SchemaViolation(results.InstanceLocation.ToString(), "false", "No value is allowed here."));
        return violations;
    }

    /// <summary>What Herald refuses before the library sees the schema: a <c>$schema</c> of another dialect, and any
    /// reference that does not point inside the schema (which would have to be fetched).</summary>
    private static string? FindProblem(JsonElement element, string path)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.Object:
                foreach (var property in element.EnumerateObject())
                {
                    var at = path + "/" + property.Name.Replace("~", "~0").Replace("/", "~1");
                    if (property.Name is "$ref" or "$dynamicRef" && property.Value.ValueKind == JsonValueKind.String
                        && !property.Value.GetString()!.StartsWith('#'))
                    {
                        return $"{at}: only references inside the schema (starting with '#') are allowed; nothing is fetched.";
                    }
                    if (property.Name == "$schema" && path.Length == 0 && property.Value.ValueKind == JsonValueKind.String
                        && property.Value.GetString()!.TrimEnd('#') != Dialect)
                    {
                        return $"/$schema: only draft 2020-12 ({Dialect}) is supported.";
                    }
                    if (FindProblem(property.Value, at) is { } problem) return problem;
                }
                return null;
            case JsonValueKind.Array:
                var index = 0;
                foreach (var item in element.EnumerateArray())
                {
                    if (FindProblem(item, $"{path}/{index++}") is { } problem) return problem;
                }
                return null;
            default:
                return null;
        }
    }
}
