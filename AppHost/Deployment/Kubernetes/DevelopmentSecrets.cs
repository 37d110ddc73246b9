using System.Security.Cryptography;
using Herald.AppHost.Deployment.Manifest;

namespace Herald.AppHost.Deployment.Kubernetes;

/// <summary>
/// The dev overlay's <c>secrets.env</c>: one generated value per secret parameter, written once. Values already in the
/// file are kept (PostgreSQL sets its password only when it first initializes its volume); parameters added to the
/// AppHost since are appended.
/// </summary>
public static class DevelopmentSecrets
{
    // Letters and digits only: the values sit inside connection strings (';' and '=' are separators) and inside
    // $(…) references the kubelet expands.
    private const string Alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    private const int MinimumLength = 32;

    public static void Write(string path, IEnumerable<ManifestResource> secretParameters)
    {
        var existing = File.Exists(path)
            ? File.ReadAllLines(path).Where(l => l.Contains('=', StringComparison.Ordinal)).Select(l => l[..l.IndexOf('=', StringComparison.Ordinal)]).ToHashSet(StringComparer.Ordinal)
            : [];
        var added = secretParameters
            .Where(p => !existing.Contains(p.Name))
            .Select(p => $"{p.Name}={RandomNumberGenerator.GetString(Alphabet, Math.Max(MinimumLength, MinLength(p)))}\n")
            .ToList();
        if (added.Count == 0 && File.Exists(path)) return;

        File.AppendAllText(path, string.Concat(added));
        if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
    }

    private static int MinLength(ManifestResource parameter) =>
        parameter.Generate is { } generate && generate.TryGetProperty("minLength", out var length) ? length.GetInt32() : 0;
}
