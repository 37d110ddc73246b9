namespace Herald.AppHost.Deployment.Manifest;

/// <summary>
/// A manifest value as a pod sees it once every placeholder is resolved: literal text interleaved with references to
/// secret parameters. The secrets themselves are never part of it, so it can be written anywhere except where a
/// reference has to become a value.
/// </summary>
public sealed record PodValue(IReadOnlyList<PodValuePart> Parts)
{
    public bool IsLiteral => Parts.All(part => part is LiteralPart);

    /// <summary>The whole value when it is a single secret parameter, such as <c>{postgres-password.value}</c>.</summary>
    public string? SoleSecret => Parts is [SecretPart secret] ? secret.Parameter : null;

    public IEnumerable<string> Secrets => Parts.OfType<SecretPart>().Select(part => part.Parameter).Distinct();

    /// <summary>The text with each secret written by <paramref name="secretReference"/>.</summary>
    public string Render(Func<string, string> secretReference) => string.Concat(Parts.Select(part => part switch
    {
        LiteralPart literal => literal.Text,
        SecretPart secret => secretReference(secret.Parameter),
        _ => throw new InvalidOperationException($"Unknown part {part}."),
    }));

    public string LiteralText => IsLiteral
        ? Render(_ => throw new InvalidOperationException())
        : throw new InvalidOperationException("The value references a secret.");
}

public abstract record PodValuePart;

public sealed record LiteralPart(string Text) : PodValuePart;

/// <summary>The value of a secret parameter, by parameter name.</summary>
public sealed record SecretPart(string Parameter) : PodValuePart;
