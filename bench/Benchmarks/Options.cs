using System.Globalization;

namespace Herald.Bench;

/// <summary>Command-line options of the form <c>--name value</c>.</summary>
public static class Options
{
    public static int Get(string[] args, string name, int fallback)
    {
        var index = Array.IndexOf(args, name);
        return index >= 0 && index + 1 < args.Length ? int.Parse(args[index + 1], CultureInfo.InvariantCulture) : fallback;
    }
}
