using System.Globalization;

namespace Herald.Bench;

/// <summary>Command-line options of the form <c>--name value</c>, and flags <c>--name</c>.</summary>
public static class Options
{
    public static int Get(string[] args, string name, int fallback) =>
        Text(args, name) is { } value ? int.Parse(value, CultureInfo.InvariantCulture) : fallback;

    public static string? Text(string[] args, string name)
    {
        var index = Array.IndexOf(args, name);
        return index >= 0 && index + 1 < args.Length ? args[index + 1] : null;
    }

    public static bool Flag(string[] args, string name) => args.Contains(name);

    /// <summary>Settings for Herald's AppHost given on the command line (<c>--Kafka:Producer:linger.ms=5</c>,
    /// <c>--Herald:Delivery:MaxInFlight=512</c>): the AppHost forwards both sections to the services.</summary>
    public static string[] HeraldSettings(string[] args) =>
        [.. args.Where(a => (a.StartsWith("--Herald:", StringComparison.Ordinal) || a.StartsWith("--Kafka:", StringComparison.Ordinal)) && a.Contains('='))];
}
