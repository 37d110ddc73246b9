using System.CommandLine;

namespace Herald.Bench;

/// <summary>The option shapes the benchmarks' commands share (System.CommandLine; <c>--help</c> lists them with their
/// defaults).</summary>
public static class Cli
{
    public static Option<int> Number(string name, int defaultValue, string description, string helpName = "N") =>
        new(name) { Description = description, DefaultValueFactory = _ => defaultValue, HelpName = helpName };

    public static Option<int> Seconds(string name, int defaultValue, string description) => Number(name, defaultValue, description, "S");

    public static Option<string?> Text(string name, string helpName, string description) =>
        new(name) { Description = description, HelpName = helpName };

    public static Option<bool> Flag(string name, string description) => new(name) { Description = description };

    public static TimeSpan GetSeconds(this ParseResult result, Option<int> option) => TimeSpan.FromSeconds(result.GetValue(option));

    /// <summary>Lets a command take settings for Herald's AppHost after its options (<c>--Kafka:Producer:linger.ms=5</c>,
    /// <c>--Herald:Delivery:MaxInFlight=512</c>): the AppHost forwards both sections to the services.</summary>
    public static Command WithHeraldSettings(this Command command)
    {
        command.TreatUnmatchedTokensAsErrors = false;
        return command;
    }

    /// <summary>The AppHost settings given to a command made <see cref="WithHeraldSettings"/>; false, having said so on
    /// stderr, when some other token is not one of its options either.</summary>
    public static bool TryGetHeraldSettings(this ParseResult result, out string[] settings)
    {
        settings = [.. result.UnmatchedTokens.Where(IsHeraldSetting)];
        var unknown = result.UnmatchedTokens.Where(token => !IsHeraldSetting(token)).ToList();
        if (unknown.Count == 0) return true;
        Console.Error.WriteLine($"unrecognized: {string.Join(" ", unknown)} (AppHost settings are --Herald:…=… or --Kafka:…=…; --help lists the options)");
        return false;
    }

    private static bool IsHeraldSetting(string token) =>
        (token.StartsWith("--Herald:", StringComparison.Ordinal) || token.StartsWith("--Kafka:", StringComparison.Ordinal)) && token.Contains('=');
}
