using Herald.Operator.Resources;
using k8s;
using k8s.Models;
using Microsoft.Extensions.Options;

namespace Herald.Operator.Control;

/// <summary>Records core/v1 Events on a resource (what <c>kubectl describe</c> shows); best effort: a lost event loses no state.</summary>
public sealed class EventRecorder(IKubernetes kubernetes, IOptions<OperatorOptions> options, ILogger<EventRecorder> logger)
{
    public async Task RecordAsync(IHeraldResource resource, string kind, string reason, string message, CancellationToken cancellationToken)
    {
        var now = DateTime.UtcNow;
        try
        {
            await kubernetes.CoreV1.CreateNamespacedEventAsync(new Corev1Event
            {
                Metadata = new V1ObjectMeta { Name = $"{resource.Name()}.{Guid.NewGuid():N}" },
                InvolvedObject = new V1ObjectReference
                {
                    ApiVersion = ResourceGroup.ApiVersion, Kind = kind, Name = resource.Name(),
                    NamespaceProperty = options.Value.Namespace, Uid = resource.Uid(), ResourceVersion = resource.ResourceVersion(),
                },
                Reason = reason, Message = message, Type = "Normal", Count = 1, FirstTimestamp = now, LastTimestamp = now,
                Source = new V1EventSource { Component = "herald-operator" },
            }, options.Value.Namespace, cancellationToken: cancellationToken);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            logger.LogWarning(e, "Could not record event {Reason} on {Name}", reason, resource.Name());
        }
    }
}
