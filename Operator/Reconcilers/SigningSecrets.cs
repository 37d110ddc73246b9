using System.Net;
using System.Text;
using Herald.Operator.Resources;
using k8s;
using k8s.Autorest;
using k8s.Models;
using Microsoft.Extensions.Options;

namespace Herald.Operator.Reconcilers;

/// <summary>
/// An endpoint's signing secret in a Kubernetes Secret: read from it when it holds the key (Herald is given that
/// secret), written to it otherwise (Herald's generated secret, for the receiving service to mount). Also reads the
/// Secrets an endpoint's headers come from.
/// </summary>
public sealed class SigningSecrets(IKubernetes kubernetes, IOptions<OperatorOptions> options)
{
    private string Namespace => options.Value.Namespace;

    public async Task<string?> ReadAsync(SecretKeyRef reference, CancellationToken cancellationToken)
    {
        var secret = await FindAsync(reference.Name, cancellationToken);
        return secret?.Data?.TryGetValue(reference.Key, out var value) == true ? Encoding.UTF8.GetString(value) : null;
    }

    /// <summary>Every key of the Secret with its value (null: no such Secret).</summary>
    public async Task<IReadOnlyDictionary<string, string>?> ReadAllAsync(string name, CancellationToken cancellationToken) =>
        await FindAsync(name, cancellationToken) is { } secret
            ? (secret.Data ?? new Dictionary<string, byte[]>()).ToDictionary(d => d.Key, d => Encoding.UTF8.GetString(d.Value), StringComparer.Ordinal)
            : null;

    /// <summary>Writes the key, creating the Secret (owned by the endpoint resource, so it goes with it) if there is none.</summary>
    public async Task WriteAsync(WebhookEndpoint owner, SecretKeyRef reference, string value, CancellationToken cancellationToken)
    {
        var secret = await FindAsync(reference.Name, cancellationToken);
        if (secret is null)
        {
            await kubernetes.CoreV1.CreateNamespacedSecretAsync(new V1Secret
            {
                Metadata = new V1ObjectMeta
                {
                    Name = reference.Name,
                    OwnerReferences = [new V1OwnerReference { ApiVersion = ResourceGroup.ApiVersion, Kind = WebhookEndpoint.Type.Kind, Name = owner.Name(), Uid = owner.Uid() }],
                },
                Type = "Opaque",
                Data = new Dictionary<string, byte[]> { [reference.Key] = Encoding.UTF8.GetBytes(value) },
            }, Namespace, cancellationToken: cancellationToken);
            return;
        }
        secret.Data ??= new Dictionary<string, byte[]>();
        secret.Data[reference.Key] = Encoding.UTF8.GetBytes(value);
        await kubernetes.CoreV1.ReplaceNamespacedSecretAsync(secret, reference.Name, Namespace, cancellationToken: cancellationToken);
    }

    private async Task<V1Secret?> FindAsync(string name, CancellationToken cancellationToken)
    {
        try { return await kubernetes.CoreV1.ReadNamespacedSecretAsync(name, Namespace, cancellationToken: cancellationToken); }
        catch (HttpOperationException e) when (e.Response.StatusCode == HttpStatusCode.NotFound) { return null; }
    }
}
