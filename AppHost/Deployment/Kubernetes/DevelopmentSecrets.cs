using System.Security.Cryptography;
using Herald.AppHost.Deployment.Manifest;

namespace Herald.AppHost.Deployment.Kubernetes;

/// <summary>
/// The dev overlay's <c>secrets.env</c>: one value per secret parameter, written once. A value already in the file is
/// kept (PostgreSQL sets its password only when it first initializes its volume); a parameter added since takes the
/// value the AppHost is configured with (<c>Parameters:&lt;name&gt;</c>, or <c>ConnectionStrings:&lt;name&gt;</c> for an
/// existing server), else a generated one if the AppHost generates it.
/// </summary>
public static class DevelopmentSecrets
{
    // Letters and digits only: the values sit inside connection strings (';' and '=' are separators) and inside
    // $(…) references the kubelet expands.
    private const string Alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    private const int MinimumLength = 32;

    public static void Write(string path, IEnumerable<ManifestResource> secretParameters, Func<string, string?> configuredValue)
    {
        var existing = File.Exists(path)
            ? File.ReadAllLines(path).Where(l => l.Contains('=', StringComparison.Ordinal)).Select(l => l[..l.IndexOf('=', StringComparison.Ordinal)]).ToHashSet(StringComparer.Ordinal)
            : [];
        var added = secretParameters
            .Where(p => !existing.Contains(p.Name))
            .Select(p => $"{p.Name}={configuredValue(p.Name) ?? Generated(p, path)}\n")
            .ToList();
        if (added.Count == 0 && File.Exists(path)) return;

        File.AppendAllText(path, string.Concat(added));
        if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
    }

    private static string Generated(ManifestResource parameter, string path) =>
        parameter.Generate is { } generate
            ? RandomNumberGenerator.GetString(Alphabet,
                Math.Max(MinimumLength, generate.TryGetProperty("minLength", out var length) ? length.GetInt32() : 0))
            : throw new DistributedApplicationException(
                $"Secret parameter '{parameter.Name}' has no generated default: give it to the AppHost (--Parameters:{parameter.Name}=…) or add {parameter.Name}=… to {path}.");
}
