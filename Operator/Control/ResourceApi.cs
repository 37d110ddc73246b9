using System.Net;
using System.Runtime.CompilerServices;
using System.Text.Json;
using Herald.Operator.Resources;
using k8s;
using k8s.Autorest;
using k8s.Models;

namespace Herald.Operator.Control;

/// <summary>One kind's calls to the API server, typed: list, watch, get, replace, replace status.</summary>
public sealed class ResourceApi<T>(IKubernetes kubernetes, ResourceType type) where T : class, IKubernetesObject<V1ObjectMeta>
{
    private const string Group = ResourceGroup.Group, Version = ResourceGroup.Version;

    public ResourceType Type => type;

    public async Task<(IReadOnlyList<T> Items, string ResourceVersion)> ListAsync(string ns, CancellationToken cancellationToken)
    {
        var list = await kubernetes.CustomObjects.ListNamespacedCustomObjectAsync<CustomResourceList<T>>(Group, Version, ns, type.Plural, cancellationToken: cancellationToken);
        return (list.Items, list.Metadata.ResourceVersion);
    }

    /// <summary>Changes after <paramref name="resourceVersion"/>, bookmarks included; errors in the stream (a 410) go to <paramref name="onError"/>.</summary>
    public async IAsyncEnumerable<(WatchEventType Type, T Object)> WatchAsync(string ns, string resourceVersion, TimeSpan window,
        Action<Exception> onError, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var events = kubernetes.CustomObjects.WatchListNamespacedCustomObjectAsync(Group, Version, ns, type.Plural,
            allowWatchBookmarks: true, resourceVersion: resourceVersion, timeoutSeconds: (int)window.TotalSeconds,
            onError: onError, cancellationToken: cancellationToken);
        await foreach (var (eventType, raw) in events)
            yield return (eventType, KubernetesJson.Deserialize<T>(((JsonElement)raw).GetRawText()));
    }

    public async Task<T?> GetAsync(string ns, string name, CancellationToken cancellationToken)
    {
        try
        {
            return await kubernetes.CustomObjects.GetNamespacedCustomObjectAsync<T>(Group, Version, ns, type.Plural, name, cancellationToken);
        }
        catch (HttpOperationException e) when (e.Response.StatusCode == HttpStatusCode.NotFound)
        {
            return null;
        }
    }

    public Task<T> ReplaceAsync(T resource, CancellationToken cancellationToken) =>
        kubernetes.CustomObjects.ReplaceNamespacedCustomObjectAsync<T>(resource, Group, Version, resource.Namespace(), type.Plural, resource.Name(), cancellationToken: cancellationToken);

    public Task<T> ReplaceStatusAsync(T resource, CancellationToken cancellationToken) =>
        kubernetes.CustomObjects.ReplaceNamespacedCustomObjectStatusAsync<T>(resource, Group, Version, resource.Namespace(), type.Plural, resource.Name(), cancellationToken: cancellationToken);
}
