using System.Diagnostics;
using System.Net;
using Herald.Operator.Reconcilers;
using Herald.Operator.Resources;
using Herald.Operator.Telemetry;
using k8s;
using k8s.Autorest;
using k8s.Models;
using Microsoft.Extensions.Options;
using Microsoft.Kiota.Abstractions;

namespace Herald.Operator.Control;

/// <summary>Runs one kind's control loop while this replica leads.</summary>
public interface IController
{
    string Kind { get; }
    int QueueDepth { get; }
    Task RunAsync(CancellationToken cancellationToken);
}

/// <summary>
/// One kind's control loop: list + watch (resuming from the last version seen, bookmarks included; re-listing after 410)
/// feed a <see cref="WorkQueue{TKey}"/> of names; a resync re-queues everything periodically; the worker reconciles each
/// name: the finalizer first, then Herald, then <c>status</c> (<c>Ready</c>, the Herald id, observedGeneration).
/// </summary>
public sealed class Controller<T>(
    ResourceApi<T> api, IReconciler<T> reconciler, EventRecorder events, OperatorMetrics metrics, Dependencies dependencies,
    IOptions<OperatorOptions> options, ILogger<Controller<T>> logger) : IController
    where T : class, IHeraldResource
{
    // How long one watch request lasts before it is renewed from the last version (the API server caps it too).
    private static readonly TimeSpan WatchWindow = TimeSpan.FromMinutes(5);
    private readonly OperatorOptions _options = options.Value;
    private WorkQueue<string> _queue = null!;

    public string Kind => api.Type.Kind;
    public int QueueDepth => _queue?.Depth ?? 0;

    public async Task RunAsync(CancellationToken cancellationToken)
    {
        // A fresh queue per term of leadership: back-offs from a previous term mean nothing now.
        _queue = new WorkQueue<string>(_options.BaseBackoff, _options.MaxBackoff);
        dependencies.ApplicationReady += RequeueDependents;
        try
        {
            await Task.WhenAll(WatchAsync(cancellationToken), ResyncAsync(cancellationToken), WorkAsync(cancellationToken));
        }
        finally
        {
            dependencies.ApplicationReady -= RequeueDependents;
        }
    }

    // Which application each resource of this kind needs, as the list and the watch last showed it.
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, string> _needs = new(StringComparer.Ordinal);

    private void Seen(T item, WatchEventType type)
    {
        if (type == WatchEventType.Deleted || item.ApplicationRef is not { } application) _needs.TryRemove(item.Name(), out _);
        else _needs[item.Name()] = application;
    }

    private void RequeueDependents(string application)
    {
        foreach (var (name, needs) in _needs)
        {
            if (needs != application) continue;
            _queue.Forget(name);
            _queue.Add(name);
        }
    }

    private async Task WatchAsync(CancellationToken cancellationToken)
    {
        string? version = null;
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                if (version is null)
                {
                    var (items, listed) = await api.ListAsync(_options.Namespace, cancellationToken);
                    foreach (var item in items)
                    {
                        Seen(item, WatchEventType.Added);
                        _queue.Add(item.Name());
                    }
                    version = listed;
                }
                var expired = false;
                await foreach (var (type, item) in api.WatchAsync(_options.Namespace, version, WatchWindow,
                                   e => expired |= e is KubernetesException { Status.Code: 410 }, cancellationToken))
                {
                    version = item.ResourceVersion();
                    if (type == WatchEventType.Bookmark) continue;
                    Seen(item, type);
                    _queue.Add(item.Name());
                }
                // 410 Gone: the version is older than the server keeps; what happened since is known only by listing again.
                if (expired)
                {
                    logger.LogInformation("{Kind} watch expired at version {Version}; listing again", Kind, version);
                    version = null;
                }
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested) { return; }
            catch (HttpOperationException e) when (e.Response.StatusCode == HttpStatusCode.Gone) { version = null; }
            catch (Exception e)
            {
                logger.LogWarning(e, "{Kind} watch failed; resuming from version {Version}", Kind, version);
                await Task.Delay(_options.BaseBackoff, cancellationToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            }
        }
    }

    private async Task ResyncAsync(CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(_options.ResyncPeriod);
        try
        {
            while (await timer.WaitForNextTickAsync(cancellationToken))
            {
                try
                {
                    foreach (var item in (await api.ListAsync(_options.Namespace, cancellationToken)).Items) _queue.Add(item.Name());
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    logger.LogWarning(e, "{Kind} resync failed", Kind);
                }
            }
        }
        catch (OperationCanceledException) { }
    }

    private async Task WorkAsync(CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            string name;
            try { name = await _queue.TakeAsync(cancellationToken); }
            catch (OperationCanceledException) { return; }
            var started = Stopwatch.GetTimestamp();
            string result;
            try
            {
                await ReconcileAsync(name, cancellationToken);
                _queue.Forget(name);
                result = "success";
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested) { return; }
            catch (Exception e)
            {
                result = e is HttpOperationException { Response.StatusCode: HttpStatusCode.Conflict } ? "conflict" : "error";
                var delay = _queue.AddRateLimited(name);
                // A known reason (a missing application, Herald refusing the spec) is in the status already: no stack trace.
                if (e is ReconcileFailure failure)
                    logger.LogInformation("{Kind} {Name}: not ready ({Reason}: {Message}); again in {Delay}", Kind, name, failure.Reason, failure.Message, delay);
                else
                    logger.LogWarning(e, "{Kind} {Name}: reconcile failed ({Result}); again in {Delay}", Kind, name, result, delay);
            }
            finally
            {
                _queue.Done(name);
            }
            metrics.Reconciled(Kind, result, Stopwatch.GetElapsedTime(started));
        }
    }

    private async Task ReconcileAsync(string name, CancellationToken cancellationToken)
    {
        var resource = await api.GetAsync(_options.Namespace, name, cancellationToken);
        if (resource is null) return; // gone: its finalizer has run

        var finalizers = resource.Metadata.Finalizers ??= [];
        if (resource.Metadata.DeletionTimestamp is not null)
        {
            if (!finalizers.Contains(ResourceGroup.Finalizer)) return;
            await reconciler.DeleteAsync(resource, cancellationToken);
            finalizers.Remove(ResourceGroup.Finalizer);
            await api.ReplaceAsync(resource, cancellationToken);
            return;
        }
        if (!finalizers.Contains(ResourceGroup.Finalizer))
        {
            // Before anything exists in Herald: no object there is ever left without a finalizer here to remove it.
            finalizers.Add(ResourceGroup.Finalizer);
            resource = await api.ReplaceAsync(resource, cancellationToken);
        }

        try
        {
            var outcome = await reconciler.ReconcileAsync(resource, cancellationToken);
            await WriteStatusAsync(resource, outcome.HeraldId, "True", "Reconciled", "Herald matches the resource.", applied: true, cancellationToken);
            if (resource is HeraldApplication) dependencies.Ready(resource.Name());
            if (outcome.DriftCorrected)
                await events.RecordAsync(resource, Kind, "DriftCorrected", $"Herald's {outcome.HeraldId} differed from the resource and was put back.", cancellationToken);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            var (reason, message) = e switch
            {
                ReconcileFailure f => (f.Reason, f.Message),
                ApiException a => ("HeraldApiError", $"Herald's API answered {a.ResponseStatusCode}: {HeraldCalls.Describe(a)}"),
                HttpRequestException h => ("HeraldUnreachable", h.Message),
                _ => ("ReconcileError", e.Message),
            };
            await WriteStatusAsync(resource, resource.Status?.HeraldId, "False", reason, message, applied: false, cancellationToken);
            throw;
        }
    }

    /// <summary>
    /// Writes <c>Ready</c> (its observedGeneration: the generation this outcome is about) unless it says that already (a
    /// no-op write would wake every watcher for nothing). <c>status.observedGeneration</c> moves only when the spec was
    /// applied to Herald: it says which generation Herald holds.
    /// </summary>
    private async Task WriteStatusAsync(T resource, string? heraldId, string ready, string reason, string message, bool applied, CancellationToken cancellationToken)
    {
        var generation = resource.Metadata.Generation ?? 0;
        var status = resource.Status ??= new ResourceStatus();
        var observed = applied ? generation : status.ObservedGeneration;
        var previous = status.Conditions.FirstOrDefault(c => c.Type == "Ready");
        if (previous is not null && previous.Status == ready && previous.Reason == reason && previous.Message == message &&
            previous.ObservedGeneration == generation && status.HeraldId == heraldId && status.ObservedGeneration == observed)
            return;
        var transition = previous is not null && previous.Status == ready ? previous.LastTransitionTime : DateTime.UtcNow;
        status.Conditions.RemoveAll(c => c.Type == "Ready");
        status.Conditions.Add(new Condition("Ready", ready, reason, message, generation, transition));
        status.HeraldId = heraldId;
        status.ObservedGeneration = observed;
        await api.ReplaceStatusAsync(resource, cancellationToken);
    }
}
