using System.Globalization;
using System.Text;
using System.Text.Json;
using Herald.ApiService.Problems;

namespace Herald.ApiService.Routing;

/// <summary>
/// An endpoint's content filter: a JSON object the payload must match, compiled to an SQL/JSON path predicate that
/// fan-out evaluates in PostgreSQL (<c>herald_payload_matches</c>). The language is small on purpose — no code, no
/// regular expressions, no recursive descent — so evaluating it costs one pass over the payload at most per condition.
/// <list type="bullet">
/// <item><c>{"type": "invoice.paid"}</c>: the field equals the value (string, number, boolean or null).</item>
/// <item><c>{"data": {"amount": {"$gte": 100}}}</c>: nested objects name nested fields; an object of operators tests
/// the field: <c>$eq $neq $gt $gte $lt $lte $in $nin $startsWith $exists</c>.</item>
/// <item><c>$and</c>, <c>$or</c> (arrays of filters) and <c>$not</c> (a filter) combine; sibling keys are all required.</item>
/// </list>
/// A condition on a missing field is false (<c>$neq</c> and <c>$nin</c> included; test <c>{"$exists": false}</c> for
/// absence). A field holding an array matches when one of its elements does.
/// </summary>
public static class ContentFilter
{
    public const int MaxBytes = 4096;
    public const int MaxDepth = 6;
    public const int MaxConditions = 32;
    public const int MaxValues = 32;
    public const int MaxKeyLength = 256;

    /// <summary>Compiles <paramref name="filter"/>; throws <see cref="ContentFilterException"/> saying what is wrong.</summary>
    public static string Compile(JsonElement filter)
    {
        if (filter.ValueKind != JsonValueKind.Object) throw new ContentFilterException("A filter is a JSON object, e.g. {\"type\": \"invoice.paid\"}.");
        if (Encoding.UTF8.GetByteCount(filter.GetRawText()) > MaxBytes) throw new ContentFilterException($"At most {MaxBytes} bytes.");
        if (!filter.EnumerateObject().Any()) throw new ContentFilterException("The filter has no condition; omit it to receive every message.");
        var compiler = new Compiler();
        var path = compiler.All(filter, "$", depth: 1);
        return path;
    }

    private sealed class Compiler
    {
        public int Conditions { get; private set; }

        /// <summary>Every key of <paramref name="filter"/> holds at <paramref name="path"/>.</summary>
        public string All(JsonElement filter, string path, int depth)
        {
            if (depth > MaxDepth) throw new ContentFilterException($"Nested more than {MaxDepth} levels deep.");
            var parts = new List<string>();
            foreach (var property in filter.EnumerateObject())
            {
                var value = property.Value;
                parts.Add(property.Name switch
                {
                    "$and" => Join(Filters(value, "$and"), " && ", path, depth),
                    "$or" => Join(Filters(value, "$or"), " || ", path, depth),
                    "$not" when value.ValueKind == JsonValueKind.Object => $"!({All(value, path, depth + 1)})",
                    "$not" => throw new ContentFilterException("$not takes a filter (an object)."),
                    ['$', ..] => throw new ContentFilterException($"'{Shorten(property.Name)}' is not an operator here; only $and, $or and $not combine filters."),
                    _ => Field(value, path + "." + Literal(Key(property.Name)), depth),
                });
            }
            return parts.Count switch
            {
                0 => throw new ContentFilterException("An empty object matches nothing; remove it."),
                1 => parts[0],
                _ => "(" + string.Join(" && ", parts) + ")",
            };
        }

        private static IEnumerable<JsonElement> Filters(JsonElement value, string name)
        {
            if (value.ValueKind != JsonValueKind.Array || value.GetArrayLength() == 0 || value.EnumerateArray().Any(f => f.ValueKind != JsonValueKind.Object))
                throw new ContentFilterException($"{name} takes a non-empty array of filters (objects).");
            return value.EnumerateArray();
        }

        private string Join(IEnumerable<JsonElement> filters, string separator, string path, int depth) =>
            "(" + string.Join(separator, filters.Select(f => All(f, path, depth + 1))) + ")";

        /// <summary>The field at <paramref name="path"/> matches <paramref name="value"/>.</summary>
        private string Field(JsonElement value, string path, int depth)
        {
            switch (value.ValueKind)
            {
                case JsonValueKind.Array:
                    throw new ContentFilterException($"A field's value is a string, number, boolean, null or object; use {{\"$in\": [...]}} for a list ({Shorten(path)}).");
                case JsonValueKind.Object:
                    var keys = value.EnumerateObject().Select(p => p.Name).ToList();
                    if (keys.Count == 0) throw new ContentFilterException($"An empty object matches nothing ({Shorten(path)}).");
                    if (keys.All(k => k.StartsWith('$'))) return Operators(value, path);
                    if (keys.Any(k => k.StartsWith('$') && k is not ("$and" or "$or" or "$not")))
                        throw new ContentFilterException($"Operators and field names cannot be mixed in one object ({Shorten(path)}).");
                    return All(value, path, depth + 1);
                default:
                    return Condition($"{path} == {Scalar(value)}");
            }
        }

        private string Operators(JsonElement operators, string path)
        {
            var parts = new List<string>();
            foreach (var (name, operand) in operators.EnumerateObject().Select(p => (p.Name, p.Value)))
            {
                parts.Add(name switch
                {
                    "$eq" => Condition($"{path} == {Scalar(operand)}"),
                    "$neq" => Condition($"{path} != {Scalar(operand)}"),
                    "$gt" => Condition($"{path} > {Ordered(operand, name)}"),
                    "$gte" => Condition($"{path} >= {Ordered(operand, name)}"),
                    "$lt" => Condition($"{path} < {Ordered(operand, name)}"),
                    "$lte" => Condition($"{path} <= {Ordered(operand, name)}"),
                    "$in" => Condition("(" + string.Join(" || ", Values(operand, name).Select(v => $"{path} == {v}")) + ")"),
                    "$nin" => Condition("(" + string.Join(" && ", Values(operand, name).Select(v => $"{path} != {v}")) + ")"),
                    "$startsWith" when operand.ValueKind == JsonValueKind.String => Condition($"{path} starts with {Literal(Text(operand))}"),
                    "$startsWith" => throw new ContentFilterException("$startsWith takes a string."),
                    "$exists" when operand.ValueKind is JsonValueKind.True => Condition($"exists({path})"),
                    "$exists" when operand.ValueKind is JsonValueKind.False => Condition($"!exists({path})"),
                    "$exists" => throw new ContentFilterException("$exists takes true or false."),
                    "$and" or "$or" or "$not" => throw new ContentFilterException($"{name} combines filters; put it beside field names, not among a field's operators."),
                    _ => throw new ContentFilterException($"'{Shorten(name)}' is not an operator: use $eq, $neq, $gt, $gte, $lt, $lte, $in, $nin, $startsWith or $exists."),
                });
            }
            return parts.Count == 1 ? parts[0] : "(" + string.Join(" && ", parts) + ")";
        }

        private string Condition(string condition)
        {
            if (++Conditions > MaxConditions) throw new ContentFilterException($"At most {MaxConditions} conditions.");
            return condition;
        }

        private static IEnumerable<string> Values(JsonElement operand, string name)
        {
            if (operand.ValueKind != JsonValueKind.Array || operand.GetArrayLength() is 0 or > MaxValues)
                throw new ContentFilterException($"{name} takes an array of 1 to {MaxValues} values.");
            return [.. operand.EnumerateArray().Select(Scalar)];
        }

        private static string Ordered(JsonElement operand, string name) => operand.ValueKind is JsonValueKind.Number or JsonValueKind.String
            ? Scalar(operand)
            : throw new ContentFilterException($"{name} compares with a number or a string.");

        private static string Scalar(JsonElement value) => value.ValueKind switch
        {
            JsonValueKind.String => Literal(Text(value)),
            JsonValueKind.Number => Number(value),
            JsonValueKind.True => "true",
            JsonValueKind.False => "false",
            JsonValueKind.Null => "null",
            _ => throw new ContentFilterException("A value to compare with is a string, number, boolean or null."),
        };

        private static string Number(JsonElement value) =>
            decimal.TryParse(value.GetRawText(), NumberStyles.Float, CultureInfo.InvariantCulture, out var number)
                ? number.ToString(CultureInfo.InvariantCulture)
                : throw new ContentFilterException($"{Shorten(value.GetRawText())}: numbers in a filter are at most ±79228162514264337593543950335.");

        private static string Key(string name) =>
            name.Length is 0 or > MaxKeyLength ? throw new ContentFilterException($"Field names are 1 to {MaxKeyLength} characters.")
            : StorableText.IsStorable(name) ? name
            : throw new ContentFilterException($"A field name: {StorableText.Rule}");

        private static string Text(JsonElement value)
        {
            var text = value.GetString()!;
            if (text.Length > 1024) throw new ContentFilterException("Strings in a filter are at most 1024 characters.");
            return StorableText.IsStorable(text) ? text : throw new ContentFilterException($"A string in the filter: {StorableText.Rule}");
        }

        /// <summary>An SQL/JSON path string literal: double-quoted, with quotes, backslashes and control characters escaped.</summary>
        private static string Literal(string text)
        {
            var literal = new StringBuilder(text.Length + 2).Append('"');
            foreach (var c in text)
            {
                if (c is '"' or '\\') literal.Append('\\').Append(c);
                else if (c < ' ' || c == '\x7f') literal.Append(CultureInfo.InvariantCulture, $"\\u{(int)c:x4}");
                else literal.Append(c);
            }
            return literal.Append('"').ToString();
        }

        private static string Shorten(string text) => text.Length > 60 ? text[..60] + "…" : text;
    }
}

/// <summary>A content filter Herald cannot use, and why (a 400 on <c>filter</c>).</summary>
public sealed class ContentFilterException(string message) : Exception(message);
