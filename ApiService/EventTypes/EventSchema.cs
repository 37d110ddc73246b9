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

    /// <summary>A tenant's <c>pattern</c> that backtracks without end must not hold a request (or a core) for long. The
    /// library matches without a timeout, so every pattern is first tried here, with one, on the payload's strings.</summary>
    public static readonly TimeSpan RegexBudget = TimeSpan.FromSeconds(1);

    private static readonly EvaluationOptions Evaluation = new() { OutputFormat = OutputFormat.List };

    private readonly JsonSchema _schema;
    private readonly Regex[] _patterns;

    private EventSchema(string text, JsonSchema schema, Regex[] patterns)
    {
        Text = text;
        _schema = schema;
        _patterns = patterns;
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
            // Cloned: the compiled schema keeps referring to the elements, so their document must outlive this call.
            var root = JsonDocument.Parse(text).RootElement.Clone();
            if (root.ValueKind is not (JsonValueKind.Object or JsonValueKind.True or JsonValueKind.False))
            {
                problem = "A JSON Schema is an object (or true or false).";
                return null!;
            }
            if ((FindProblem(root, "") ?? FindUnresolved(root, root, "")) is { } found)
            {
                problem = found;
                return null!;
            }
            // A registry of its own (never the global one), and no fetching: a reference outside the schema fails here.
            var schema = JsonSchema.Build(root, new BuildOptions { SchemaRegistry = new SchemaRegistry() });
            var patterns = new List<Regex>();
            CollectPatterns(root, patterns);
            return new EventSchema(text, schema, [.. patterns]);
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
        if (!PatternsFinishIn(payload))
            return [new SchemaViolation("", "pattern", $"A pattern of the schema took longer than {RegexBudget.TotalSeconds:0} s to evaluate on this payload.")];
        EvaluationResults results;
        try
        {
            results = _schema.Evaluate(payload, Evaluation);
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

    /// <summary>Tries every pattern of the schema on every string of the payload (values and property names) within
    /// <see cref="RegexBudget"/> altogether; false when that runs out. What finishes here finishes in the library too.</summary>
    private bool PatternsFinishIn(JsonElement payload)
    {
        if (_patterns.Length == 0) return true;
        var strings = new List<string>();
        CollectStrings(payload, strings);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        try
        {
            foreach (var pattern in _patterns)
            {
                foreach (var text in strings)
                {
                    pattern.IsMatch(text);
                    if (clock.Elapsed > RegexBudget) return false;
                }
            }
            return true;
        }
        catch (RegexMatchTimeoutException)
        {
            return false;
        }
    }

    private static void CollectStrings(JsonElement element, List<string> strings)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.String:
                strings.Add(element.GetString()!);
                break;
            case JsonValueKind.Object:
                foreach (var property in element.EnumerateObject())
                {
                    strings.Add(property.Name);
                    CollectStrings(property.Value, strings);
                }
                break;
            case JsonValueKind.Array:
                foreach (var item in element.EnumerateArray()) CollectStrings(item, strings);
                break;
        }
    }

    /// <summary>The regexes of <c>pattern</c> and <c>patternProperties</c>, each with the whole budget as its timeout.</summary>
    private static void CollectPatterns(JsonElement element, List<Regex> patterns)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.Object:
                foreach (var property in element.EnumerateObject())
                {
                    if (property.Name == "pattern" && property.Value.ValueKind == JsonValueKind.String) Add(property.Value.GetString()!);
                    if (property.Name == "patternProperties" && property.Value.ValueKind == JsonValueKind.Object)
                        foreach (var name in property.Value.EnumerateObject()) Add(name.Name);
                    CollectPatterns(property.Value, patterns);
                }
                break;
            case JsonValueKind.Array:
                foreach (var item in element.EnumerateArray()) CollectPatterns(item, patterns);
                break;
        }

        void Add(string pattern)
        {
            try
            {
                patterns.Add(new Regex(pattern, RegexOptions.None, RegexBudget));
            }
            catch (ArgumentException)
            {
                // Not a .NET regex: the library refuses the schema itself.
            }
        }
    }

    /// <summary>A reference inside the schema that points at nothing (the library finds out only when an evaluation
    /// reaches it): <c>#/json/pointer</c> from the resource it is in (the root, or the nearest subschema with an
    /// <c>$id</c>), <c>#name</c> to an <c>$anchor</c> (or <c>$dynamicAnchor</c>) anywhere in the schema.</summary>
    private static string? FindUnresolved(JsonElement root, JsonElement element, string path)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.Object:
                if (path.Length > 0 && element.TryGetProperty("$id", out var id) && id.ValueKind == JsonValueKind.String) root = element;
                foreach (var property in element.EnumerateObject())
                {
                    var at = path + "/" + property.Name.Replace("~", "~0").Replace("/", "~1");
                    if (property.Name is "$ref" or "$dynamicRef" && property.Value.ValueKind == JsonValueKind.String)
                    {
                        var reference = Uri.UnescapeDataString(property.Value.GetString()![1..]);
                        var resolves = reference.Length == 0 || (reference.StartsWith('/') ? Resolve(root, reference) : HasAnchor(root, reference));
                        if (!resolves) return $"{at}: '{property.Value.GetString()}' points at nothing in the schema.";
                    }
                    if (FindUnresolved(root, property.Value, at) is { } problem) return problem;
                }
                return null;
            case JsonValueKind.Array:
                var index = 0;
                foreach (var item in element.EnumerateArray())
                {
                    if (FindUnresolved(root, item, $"{path}/{index++}") is { } problem) return problem;
                }
                return null;
            default:
                return null;
        }
    }

    private static bool Resolve(JsonElement element, string pointer)
    {
        foreach (var token in pointer.Split('/').Skip(1).Select(t => t.Replace("~1", "/").Replace("~0", "~")))
        {
            if (element.ValueKind == JsonValueKind.Object && element.TryGetProperty(token, out var next)) element = next;
            else if (element.ValueKind == JsonValueKind.Array && int.TryParse(token, out var i) && i >= 0 && i < element.GetArrayLength()) element = element[i];
            else return false;
        }
        return true;
    }

    private static bool HasAnchor(JsonElement element, string anchor) => element.ValueKind switch
    {
        JsonValueKind.Object => element.EnumerateObject().Any(p =>
            (p.Name is "$anchor" or "$dynamicAnchor" && p.Value.ValueKind == JsonValueKind.String && p.Value.GetString() == anchor) || HasAnchor(p.Value, anchor)),
        JsonValueKind.Array => element.EnumerateArray().Any(item => HasAnchor(item, anchor)),
        _ => false,
    };

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
