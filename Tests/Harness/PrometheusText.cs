using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;

namespace Herald.Tests.Harness;

/// <summary>One sample of a scrape: <c>name{label="value",…} value</c>.</summary>
public sealed record PrometheusSample(string Name, IReadOnlyDictionary<string, string> Labels, double Value)
{
    public string? this[string label] => Labels.GetValueOrDefault(label);

    public override string ToString() => $"{Name}{{{string.Join(",", Labels.Select(l => $"{l.Key}=\"{l.Value}\""))}}} {Value}";
}

/// <summary>A <c>/metrics</c> scrape in Prometheus text format, parsed just enough for assertions.</summary>
public sealed partial class PrometheusText
{
    private PrometheusText(string text, IReadOnlyList<PrometheusSample> samples, IReadOnlyDictionary<string, string> types)
    {
        Text = text;
        Samples = samples;
        Types = types;
    }

    public string Text { get; }

    public IReadOnlyList<PrometheusSample> Samples { get; }

    /// <summary>Metric family → type, from the <c># TYPE</c> lines.</summary>
    public IReadOnlyDictionary<string, string> Types { get; }

    public static PrometheusText Parse(string text)
    {
        var samples = new List<PrometheusSample>();
        var types = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var line in text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (line.StartsWith("# TYPE ", StringComparison.Ordinal))
            {
                var parts = line.Split(' ');
                types[parts[2]] = parts[3];
                continue;
            }
            if (line.StartsWith('#')) continue;
            var match = SampleLine().Match(line);
            if (!match.Success) throw new FormatException($"Not a sample line: {line}");
            var labels = LabelPair().Matches(match.Groups["labels"].Value)
                .ToDictionary(m => m.Groups["name"].Value, m => Regex.Unescape(m.Groups["value"].Value), StringComparer.Ordinal);
            var value = match.Groups["value"].Value switch
            {
                "+Inf" => double.PositiveInfinity,
                "-Inf" => double.NegativeInfinity,
                "NaN" => double.NaN,
                var number => double.Parse(number, CultureInfo.InvariantCulture),
            };
            samples.Add(new PrometheusSample(match.Groups["name"].Value, labels, value));
        }
        return new PrometheusText(text, samples, types);
    }

    public IEnumerable<PrometheusSample> Named(string name, Func<PrometheusSample, bool>? where = null) =>
        Samples.Where(s => s.Name == name && (where is null || where(s)));

    /// <summary>The sum of every sample of <paramref name="name"/> matching <paramref name="where"/>; 0 when none.</summary>
    public double Sum(string name, Func<PrometheusSample, bool>? where = null) => Named(name, where).Sum(s => s.Value);

    public static double Sum(IEnumerable<PrometheusText> scrapes, string name, Func<PrometheusSample, bool>? where = null) =>
        scrapes.Sum(scrape => scrape.Sum(name, where));

    /// <summary>Runs <c>promtool check metrics</c> (Prometheus' own linter) over the scrape.</summary>
    public Task<(int ExitCode, string Output)> CheckWithPromtoolAsync() => Promtool.RunAsync(["check", "metrics"], Text);

    [GeneratedRegex("""^(?<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?<labels>.*)\})?\s+(?<value>\S+)(\s+\d+)?$""")]
    private static partial Regex SampleLine();

    [GeneratedRegex("""(?<name>[a-zA-Z_][a-zA-Z0-9_]*)="(?<value>(\\.|[^"\\])*)",?""")]
    private static partial Regex LabelPair();
}

/// <summary>Prometheus' <c>promtool</c> (Debian package <c>prometheus</c>, which <c>.ci/run</c> installs).</summary>
public static class Promtool
{
    public static async Task<(int ExitCode, string Output)> RunAsync(IReadOnlyList<string> arguments, string? input = null)
    {
        var start = new ProcessStartInfo("promtool")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in arguments) start.ArgumentList.Add(argument);
        Process process;
        try
        {
            process = Process.Start(start)!;
        }
        catch (System.ComponentModel.Win32Exception exception)
        {
            throw new InvalidOperationException("promtool is not installed: apt-get install prometheus (bash .ci/run does).", exception);
        }
        using (process)
        {
            var output = process.StandardOutput.ReadToEndAsync();
            var error = process.StandardError.ReadToEndAsync();
            if (input is not null) await process.StandardInput.WriteAsync(input);
            process.StandardInput.Close();
            await process.WaitForExitAsync();
            return (process.ExitCode, (await output) + (await error));
        }
    }
}
