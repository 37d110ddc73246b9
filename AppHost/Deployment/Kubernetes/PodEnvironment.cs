using Herald.AppHost.Deployment.Manifest;
using k8s.Models;

namespace Herald.AppHost.Deployment.Kubernetes;

/// <summary>
/// A resource's environment split by what it carries. Plain settings go to the workload's ConfigMap; a variable that
/// is exactly one secret parameter is read from the Secret; a variable that mixes text and secrets (a connection string
/// with a password) is composed by the kubelet from secret-backed variables (<c>$(SECRET_…)</c>), so no secret value is
/// ever written into a ConfigMap or a manifest.
/// </summary>
public sealed class PodEnvironment
{
    private const string SecretVariablePrefix = "SECRET_";

    private PodEnvironment(IReadOnlyDictionary<string, string> settings, IReadOnlyList<V1EnvVar> variables)
    {
        Settings = settings;
        Variables = variables;
    }

    /// <summary>For the ConfigMap, in manifest order.</summary>
    public IReadOnlyDictionary<string, string> Settings { get; }

    /// <summary>For the container's <c>env</c>: secret-backed variables first, since a variable can only refer to those
    /// defined before it.</summary>
    public IReadOnlyList<V1EnvVar> Variables { get; }

    /// <summary>The container's <c>envFrom</c>: the workload's ConfigMap, when there are settings to put in one.</summary>
    public List<V1EnvFromSource>? ConfigMapSource(string workload) => Settings.Count > 0
        ? [new V1EnvFromSource { ConfigMapRef = new V1ConfigMapEnvSource { Name = KustomizeTree.ConfigMapName(workload) } }]
        : null;

    public static PodEnvironment For(ManifestResource resource, ManifestExpressionResolver resolver, string secretName,
        IEnumerable<KeyValuePair<string, string>>? overrides = null)
    {
        var settings = new Dictionary<string, string>(StringComparer.Ordinal);
        var secretVariables = new Dictionary<string, V1EnvVar>(StringComparer.Ordinal);
        var variables = new List<V1EnvVar>();

        foreach (var (name, expression) in resource.Env)
        {
            var value = resolver.Resolve(expression);
            if (value.IsLiteral)
            {
                settings[name] = value.LiteralText;
            }
            else if (value.SoleSecret is { } parameter)
            {
                variables.Add(FromSecret(name, secretName, parameter));
            }
            else
            {
                foreach (var secret in value.Secrets)
                {
                    secretVariables.TryAdd(secret, FromSecret(SecretVariable(secret), secretName, secret));
                }
                variables.Add(new V1EnvVar { Name = name, Value = value.Render(secret => $"$({SecretVariable(secret)})") });
            }
        }
        foreach (var (name, value) in overrides ?? [])
        {
            settings[name] = value;
        }
        return new PodEnvironment(settings, [.. secretVariables.Values, .. variables]);
    }

    /// <summary>The variable a composed value reads a secret parameter from: <c>postgres-password</c> → <c>SECRET_POSTGRES_PASSWORD</c>.</summary>
    public static string SecretVariable(string parameter) =>
        SecretVariablePrefix + new string([.. parameter.ToUpperInvariant().Select(c => char.IsAsciiLetterOrDigit(c) ? c : '_')]);

    private static V1EnvVar FromSecret(string name, string secretName, string parameter) => new()
    {
        Name = name,
        ValueFrom = new V1EnvVarSource { SecretKeyRef = new V1SecretKeySelector { Name = secretName, Key = parameter } },
    };
}
