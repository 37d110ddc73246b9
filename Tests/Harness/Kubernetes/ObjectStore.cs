using System.Globalization;
using System.Text.Json.Nodes;
using System.Threading.Channels;

namespace Herald.Tests.Harness.Kubernetes;

/// <summary>One change as a watch sees it: its resource version (global, as etcd's revision), type and object.</summary>
public sealed record StoredEvent(long ResourceVersion, ResourceKind Kind, string Namespace, string Type, JsonObject Object);

/// <summary>
/// The stand-in's storage: objects by (type, namespace, name) and a bounded history of changes for watches. One global
/// resource version counter, as etcd's revision, so a version from one type orders against another's.
/// </summary>
public sealed class ObjectStore(int historyLimit)
{
    private readonly Lock _gate = new();
    private readonly Dictionary<(ResourceKind, string, string), JsonObject> _objects = [];
    private readonly LinkedList<StoredEvent> _history = new();
    private readonly List<(ResourceKind Kind, string? Namespace, Channel<StoredEvent> Channel)> _watchers = [];
    private long _revision = 1; // as etcd's: never 0, which a watch reads as "from whatever is current"
    // Versions at or below this one are gone from the history: a watch from before it is 410 Expired.
    private long _compactedThrough;

    public long Revision { get { lock (_gate) return _revision; } }

    /// <summary>Forgets the history (as etcd compaction does): a watch from any version before now is expired.</summary>
    public void Compact()
    {
        lock (_gate)
        {
            _history.Clear();
            _compactedThrough = _revision;
        }
    }

    /// <summary>Ends every open watch (as an API server restart does); watchers resume from the last version they saw.</summary>
    public void CloseWatches()
    {
        lock (_gate)
        {
            foreach (var (_, _, channel) in _watchers) channel.Writer.TryComplete();
            _watchers.Clear();
        }
    }

    public JsonObject Get(ResourceKind kind, string ns, string name)
    {
        lock (_gate) return Find(kind, ns, name)?.DeepClone().AsObject() ?? throw ApiError.NotFound(kind, name);
    }

    /// <summary>The objects of a type (in one namespace, or all when <paramref name="ns"/> is null) and the version they are at.</summary>
    public (IReadOnlyList<JsonObject> Items, long ResourceVersion) List(ResourceKind kind, string? ns)
    {
        lock (_gate)
        {
            var items = _objects.Where(o => o.Key.Item1 == kind && (ns is null || o.Key.Item2 == ns))
                .OrderBy(o => o.Key.Item2, StringComparer.Ordinal).ThenBy(o => o.Key.Item3, StringComparer.Ordinal)
                .Select(o => o.Value.DeepClone().AsObject()).ToList();
            return (items, _revision);
        }
    }

    public JsonObject Create(ResourceKind kind, string ns, JsonObject body)
    {
        var name = Metadata(body)["name"]?.GetValue<string>();
        if (string.IsNullOrEmpty(name)) throw ApiError.Invalid(kind, "", "metadata.name: Required value: name is required");
        if (Metadata(body)["namespace"]?.GetValue<string>() is { } bodyNs && bodyNs != ns)
            throw new ApiError(400, "BadRequest", "the namespace of the provided object does not match the namespace sent on the request");
        lock (_gate)
        {
            if (Find(kind, ns, name) is not null) throw ApiError.AlreadyExists(kind, name);
            var created = body.DeepClone().AsObject();
            MergeStringData(kind, created);
            created["apiVersion"] = kind.ApiVersion;
            created["kind"] = kind.Kind;
            var metadata = Metadata(created);
            metadata["namespace"] = ns;
            metadata["uid"] = Guid.NewGuid().ToString();
            metadata["creationTimestamp"] = Timestamp();
            metadata.Remove("deletionTimestamp");
            metadata.Remove("deletionGracePeriodSeconds");
            if (kind.Crd)
            {
                metadata["generation"] = 1L;
                created.Remove("status"); // a create sets no status when the status subresource is enabled
            }
            return Commit(kind, ns, name, created, "ADDED");
        }
    }

    /// <summary>A PUT of the object (<paramref name="status"/> false) or of its status subresource.</summary>
    public JsonObject Update(ResourceKind kind, string ns, string name, JsonObject body, bool status)
    {
        var bodyMetadata = Metadata(body);
        if (bodyMetadata["name"]?.GetValue<string>() is { } bodyName && bodyName != name)
            throw new ApiError(400, "BadRequest", "the name of the object does not match the name on the URL");
        lock (_gate)
        {
            var existing = Find(kind, ns, name) ?? throw ApiError.NotFound(kind, name);
            var existingMetadata = Metadata(existing);
            var bodyVersion = bodyMetadata["resourceVersion"]?.GetValue<string>();
            if (string.IsNullOrEmpty(bodyVersion))
            {
                if (kind.Crd) throw ApiError.Invalid(kind, name, "metadata.resourceVersion: Invalid value: 0x0: must be specified for an update");
            }
            else if (bodyVersion != existingMetadata["resourceVersion"]!.GetValue<string>())
                throw ApiError.Conflict(kind, name);

            JsonObject updated;
            if (status)
            {
                // The status subresource takes the status and ignores everything else.
                updated = existing.DeepClone().AsObject();
                updated["status"] = body["status"]?.DeepClone();
            }
            else
            {
                updated = body.DeepClone().AsObject();
                MergeStringData(kind, updated);
                updated["apiVersion"] = kind.ApiVersion;
                updated["kind"] = kind.Kind;
                var metadata = Metadata(updated);
                // Fields the server owns: a client cannot change them with an update.
                foreach (var field in new[] { "namespace", "uid", "creationTimestamp", "generation", "deletionTimestamp", "deletionGracePeriodSeconds" })
                {
                    if (existingMetadata[field] is { } value) metadata[field] = value.DeepClone();
                    else metadata.Remove(field);
                }
                if (kind.Crd)
                {
                    if (existing["status"] is { } kept) updated["status"] = kept.DeepClone();
                    else updated.Remove("status");
                }
                if (existingMetadata["deletionTimestamp"] is not null &&
                    Finalizers(updated).Except(Finalizers(existing)).Any())
                    throw new ApiError(422, "Forbidden", "no new finalizers can be added if the object is being deleted");
            }
            Metadata(updated)["resourceVersion"] = existingMetadata["resourceVersion"]!.DeepClone();
            if (JsonNode.DeepEquals(updated, existing)) return existing.DeepClone().AsObject(); // a no-op writes nothing

            if (kind.Crd && !status && !JsonNode.DeepEquals(Spec(updated), Spec(existing)))
                Metadata(updated)["generation"] = Number(existingMetadata["generation"]!) + 1;

            if (existingMetadata["deletionTimestamp"] is not null && !Finalizers(updated).Any())
                return Remove(kind, ns, name, updated);
            return Commit(kind, ns, name, updated, "MODIFIED");
        }
    }

    /// <summary>A DELETE: gone now without finalizers; otherwise marked with a deletionTimestamp until they are removed.</summary>
    public JsonObject Delete(ResourceKind kind, string ns, string name)
    {
        lock (_gate)
        {
            var existing = Find(kind, ns, name) ?? throw ApiError.NotFound(kind, name);
            if (!Finalizers(existing).Any()) return Remove(kind, ns, name, existing.DeepClone().AsObject());
            var metadata = Metadata(existing);
            if (metadata["deletionTimestamp"] is not null) return existing.DeepClone().AsObject();
            var marked = existing.DeepClone().AsObject();
            Metadata(marked)["deletionTimestamp"] = Timestamp();
            Metadata(marked)["deletionGracePeriodSeconds"] = 0;
            if (kind.Crd) Metadata(marked)["generation"] = Number(metadata["generation"]!) + 1;
            return Commit(kind, ns, name, marked, "MODIFIED");
        }
    }

    /// <summary>
    /// Starts a watch from <paramref name="fromVersion"/> (null: the current objects as ADDED, then what follows).
    /// Throws 410 Expired when that version is older than the history kept.
    /// </summary>
    public (IReadOnlyList<StoredEvent> Backlog, ChannelReader<StoredEvent> Live, Action Stop) Watch(ResourceKind kind, string? ns, long? fromVersion)
    {
        lock (_gate)
        {
            List<StoredEvent> backlog;
            if (fromVersion is null)
            {
                backlog = _objects.Where(o => o.Key.Item1 == kind && (ns is null || o.Key.Item2 == ns))
                    .Select(o => new StoredEvent(long.Parse(Metadata(o.Value)["resourceVersion"]!.GetValue<string>(), CultureInfo.InvariantCulture), kind, o.Key.Item2, "ADDED", o.Value.DeepClone().AsObject()))
                    .OrderBy(e => e.ResourceVersion).ToList();
            }
            else
            {
                if (fromVersion < _compactedThrough) throw ApiError.Expired(fromVersion.Value, _compactedThrough);
                backlog = _history.Where(e => e.ResourceVersion > fromVersion && Matches(e, kind, ns)).ToList();
            }
            var channel = Channel.CreateUnbounded<StoredEvent>(new() { SingleReader = true });
            var watcher = (kind, ns, channel);
            _watchers.Add(watcher);
            return (backlog, channel.Reader, () =>
            {
                lock (_gate) _watchers.Remove(watcher);
                channel.Writer.TryComplete();
            });
        }
    }

    private static bool Matches(StoredEvent e, ResourceKind kind, string? ns) => e.Kind == kind && (ns is null || e.Namespace == ns);

    private JsonObject? Find(ResourceKind kind, string ns, string name) => _objects.GetValueOrDefault((kind, ns, name));

    private JsonObject Commit(ResourceKind kind, string ns, string name, JsonObject value, string type)
    {
        Metadata(value)["resourceVersion"] = (++_revision).ToString(CultureInfo.InvariantCulture);
        _objects[(kind, ns, name)] = value;
        Record(new StoredEvent(_revision, kind, ns, type, value.DeepClone().AsObject()));
        return value.DeepClone().AsObject();
    }

    private JsonObject Remove(ResourceKind kind, string ns, string name, JsonObject last)
    {
        Metadata(last)["resourceVersion"] = (++_revision).ToString(CultureInfo.InvariantCulture);
        _objects.Remove((kind, ns, name));
        Record(new StoredEvent(_revision, kind, ns, "DELETED", last.DeepClone().AsObject()));
        return last.DeepClone().AsObject();
    }

    private void Record(StoredEvent e)
    {
        _history.AddLast(e);
        while (_history.Count > historyLimit)
        {
            _compactedThrough = _history.First!.Value.ResourceVersion;
            _history.RemoveFirst();
        }
        foreach (var (kind, ns, channel) in _watchers)
            if (Matches(e, kind, ns)) channel.Writer.TryWrite(e);
    }

    // A Secret's stringData is write-only: the server folds it into data (base64) and never stores it.
    private static void MergeStringData(ResourceKind kind, JsonObject o)
    {
        if (kind.Plural != "secrets" || o["stringData"] is not JsonObject strings) return;
        var data = o["data"] as JsonObject ?? (JsonObject)(o["data"] = new JsonObject());
        foreach (var (key, value) in strings) data[key] = Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes(value!.GetValue<string>()));
        o.Remove("stringData");
    }

    private static long Number(JsonNode n) => long.Parse(n.ToJsonString(), CultureInfo.InvariantCulture);

    private static JsonObject Metadata(JsonObject o) => o["metadata"] as JsonObject ?? (JsonObject)(o["metadata"] = new JsonObject());

    private static IEnumerable<string> Finalizers(JsonObject o) =>
        (Metadata(o)["finalizers"] as JsonArray)?.Select(f => f!.GetValue<string>()) ?? [];

    // What a spec change is for a custom resource: anything but metadata and status.
    private static JsonObject Spec(JsonObject o)
    {
        var copy = o.DeepClone().AsObject();
        copy.Remove("metadata");
        copy.Remove("status");
        return copy;
    }

    private static string Timestamp() => DateTime.UtcNow.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);
}
