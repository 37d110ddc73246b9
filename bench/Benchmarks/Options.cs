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
}
