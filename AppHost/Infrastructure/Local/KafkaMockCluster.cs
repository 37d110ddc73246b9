using System.Runtime.InteropServices;

namespace Herald.AppHost.Infrastructure.Local;

/// <summary>
/// librdkafka's built-in mock cluster: real Kafka-protocol brokers on loopback TCP ports (produce, fetch, consumer
/// groups, offset commits, idempotence), hosted inside the AppHost process. It ships in librdkafka.redist, which
/// Confluent.Kafka already brings, so local mode needs no JVM and no container.
/// </summary>
/// <remarks>
/// Limits worth knowing: each partition keeps at most 5 MiB / 100,000 message sets (the oldest are dropped), brokers
/// bind ephemeral ports, and there is no CreateTopics admin API, so topics are created here. The mock elects no new
/// leader when a broker goes down; <see cref="SetBrokerDown"/> does what a real cluster's controller would, moving the
/// leadership of that broker's partitions and groups to a live broker.
/// </remarks>
public sealed unsafe class KafkaMockCluster : IDisposable
{
    private const int ProducerType = 0;

    private readonly IntPtr _handle;
    private readonly IntPtr _cluster;
    private readonly Native _native;
    private readonly Lock _leadership = new();
    // Who leads what, as set here: (topic, partition) and consumer groups → broker id.
    private readonly Dictionary<(string Topic, int Partition), int> _leaders = [];
    private readonly Dictionary<string, int> _coordinators = new(StringComparer.Ordinal);
    private readonly HashSet<int> _down = [];
    private int _disposed;

    public KafkaMockCluster(int brokers)
    {
        _native = Native.Load();
        var config = _native.ConfNew();
        // The host handle never connects anywhere; keep its "no bootstrap.servers" notice out of the console.
        Set(config, "log_level", "3");
        var errors = stackalloc byte[512];
        _handle = _native.New(ProducerType, config, errors, 512);
        if (_handle == IntPtr.Zero)
        {
            throw new InvalidOperationException($"librdkafka could not create a handle: {Marshal.PtrToStringUTF8((IntPtr)errors)}");
        }
        _cluster = _native.ClusterNew(_handle, brokers);
        if (_cluster == IntPtr.Zero)
        {
            _native.Destroy(_handle);
            throw new InvalidOperationException("librdkafka could not create a mock cluster.");
        }
        Brokers = brokers;
        BootstrapServers = Marshal.PtrToStringUTF8(_native.Bootstraps(_cluster))!;
        // The default 3 s wait before the first group join only slows start-up and tests.
        SetGroupInitialRebalanceDelay(TimeSpan.Zero);
    }

    public int Brokers { get; }

    public string BootstrapServers { get; }

    /// <summary>Creates the topic with its partitions' leadership spread over the brokers.</summary>
    public void CreateTopic(string name, int partitions, int replicationFactor)
    {
        var utf8 = Marshal.StringToCoTaskMemUTF8(name);
        try
        {
            ThrowIfFailed(_native.TopicCreate(_cluster, utf8, partitions, replicationFactor), $"create topic {name}");
            lock (_leadership)
            {
                for (var partition = 0; partition < partitions; partition++) Lead(utf8, name, partition, partition % Brokers + 1);
            }
        }
        finally
        {
            Marshal.FreeCoTaskMem(utf8);
        }
    }

    /// <summary>Makes a broker the coordinator of a consumer group (so that it can be moved when the broker goes down).</summary>
    public void AssignCoordinator(string groupId, int brokerId)
    {
        lock (_leadership) Coordinate(groupId, brokerId);
    }

    /// <summary>Takes a broker off the network (its connections drop, it refuses new ones) — to rehearse outages — and,
    /// as a cluster's controller would, hands what it led to a live broker.</summary>
    public void SetBrokerDown(int brokerId)
    {
        lock (_leadership)
        {
            ThrowIfFailed(_native.BrokerSetDown(_cluster, brokerId), $"take broker {brokerId} down");
            _down.Add(brokerId);
            if (Enumerable.Range(1, Brokers).FirstOrDefault(b => !_down.Contains(b)) is not (> 0 and var live)) return;
            foreach (var ((topic, partition), _) in _leaders.Where(l => l.Value == brokerId).ToList())
            {
                var utf8 = Marshal.StringToCoTaskMemUTF8(topic);
                try
                {
                    Lead(utf8, topic, partition, live);
                }
                finally
                {
                    Marshal.FreeCoTaskMem(utf8);
                }
            }
            foreach (var (group, _) in _coordinators.Where(c => c.Value == brokerId).ToList()) Coordinate(group, live);
        }
    }

    /// <summary>Brings a broker back; what it led stays where it moved, as in a cluster before a preferred-leader election.</summary>
    public void SetBrokerUp(int brokerId)
    {
        lock (_leadership)
        {
            ThrowIfFailed(_native.BrokerSetUp(_cluster, brokerId), $"bring broker {brokerId} up");
            _down.Remove(brokerId);
        }
    }

    private void Lead(IntPtr topic, string name, int partition, int brokerId)
    {
        ThrowIfFailed(_native.PartitionSetLeader(_cluster, topic, partition, brokerId), $"make broker {brokerId} lead {name} [{partition}]");
        _leaders[(name, partition)] = brokerId;
    }

    private void Coordinate(string groupId, int brokerId)
    {
        var type = Marshal.StringToCoTaskMemUTF8("group");
        var key = Marshal.StringToCoTaskMemUTF8(groupId);
        try
        {
            ThrowIfFailed(_native.CoordinatorSet(_cluster, type, key, brokerId), $"make broker {brokerId} coordinate {groupId}");
            _coordinators[groupId] = brokerId;
        }
        finally
        {
            Marshal.FreeCoTaskMem(type);
            Marshal.FreeCoTaskMem(key);
        }
    }

    /// <summary>How long an empty consumer group waits for more members before it forms (Kafka's
    /// <c>group.initial.rebalance.delay.ms</c>, 3 s on a real broker; 0 here). Members that join a formed group wait for
    /// a rebalance, which this mock ends only after the session timeout less 1 s.</summary>
    public void SetGroupInitialRebalanceDelay(TimeSpan delay) => _native.GroupInitialRebalanceDelay(_cluster, (int)delay.TotalMilliseconds);

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1) return;
        // The cluster must go before the handle that owns it.
        _native.ClusterDestroy(_cluster);
        _native.Destroy(_handle);
    }

    private void Set(IntPtr config, string name, string value)
    {
        var errors = stackalloc byte[512];
        var n = Marshal.StringToCoTaskMemUTF8(name);
        var v = Marshal.StringToCoTaskMemUTF8(value);
        try
        {
            if (_native.ConfSet(config, n, v, errors, 512) != 0)
                throw new InvalidOperationException($"librdkafka rejected {name}={value}: {Marshal.PtrToStringUTF8((IntPtr)errors)}");
        }
        finally
        {
            Marshal.FreeCoTaskMem(n);
            Marshal.FreeCoTaskMem(v);
        }
    }

    private static void ThrowIfFailed(int error, string what)
    {
        if (error != 0) throw new InvalidOperationException($"The Kafka mock cluster could not {what}: librdkafka error {error}.");
    }

    /// <summary>The librdkafka entry points, bound from the same library file Confluent.Kafka loads.</summary>
    private sealed class Native
    {
        public required delegate* unmanaged[Cdecl]<IntPtr> ConfNew;
        public required delegate* unmanaged[Cdecl]<IntPtr, IntPtr, IntPtr, byte*, nuint, int> ConfSet;
        public required delegate* unmanaged[Cdecl]<int, IntPtr, byte*, nuint, IntPtr> New;
        public required delegate* unmanaged[Cdecl]<IntPtr, void> Destroy;
        public required delegate* unmanaged[Cdecl]<IntPtr, int, IntPtr> ClusterNew;
        public required delegate* unmanaged[Cdecl]<IntPtr, void> ClusterDestroy;
        public required delegate* unmanaged[Cdecl]<IntPtr, IntPtr> Bootstraps;
        public required delegate* unmanaged[Cdecl]<IntPtr, IntPtr, int, int, int> TopicCreate;
        public required delegate* unmanaged[Cdecl]<IntPtr, int, int> BrokerSetDown;
        public required delegate* unmanaged[Cdecl]<IntPtr, int, int> BrokerSetUp;
        public required delegate* unmanaged[Cdecl]<IntPtr, int, void> GroupInitialRebalanceDelay;
        public required delegate* unmanaged[Cdecl]<IntPtr, IntPtr, int, int, int> PartitionSetLeader;
        public required delegate* unmanaged[Cdecl]<IntPtr, IntPtr, IntPtr, int, int> CoordinatorSet;

        public static Native Load()
        {
            var library = LoadLibrary();
            IntPtr Export(string name) => NativeLibrary.GetExport(library, name);
            return new Native
            {
                ConfNew = (delegate* unmanaged[Cdecl]<IntPtr>)Export("rd_kafka_conf_new"),
                ConfSet = (delegate* unmanaged[Cdecl]<IntPtr, IntPtr, IntPtr, byte*, nuint, int>)Export("rd_kafka_conf_set"),
                New = (delegate* unmanaged[Cdecl]<int, IntPtr, byte*, nuint, IntPtr>)Export("rd_kafka_new"),
                Destroy = (delegate* unmanaged[Cdecl]<IntPtr, void>)Export("rd_kafka_destroy"),
                ClusterNew = (delegate* unmanaged[Cdecl]<IntPtr, int, IntPtr>)Export("rd_kafka_mock_cluster_new"),
                ClusterDestroy = (delegate* unmanaged[Cdecl]<IntPtr, void>)Export("rd_kafka_mock_cluster_destroy"),
                Bootstraps = (delegate* unmanaged[Cdecl]<IntPtr, IntPtr>)Export("rd_kafka_mock_cluster_bootstraps"),
                TopicCreate = (delegate* unmanaged[Cdecl]<IntPtr, IntPtr, int, int, int>)Export("rd_kafka_mock_topic_create"),
                BrokerSetDown = (delegate* unmanaged[Cdecl]<IntPtr, int, int>)Export("rd_kafka_mock_broker_set_down"),
                BrokerSetUp = (delegate* unmanaged[Cdecl]<IntPtr, int, int>)Export("rd_kafka_mock_broker_set_up"),
                GroupInitialRebalanceDelay = (delegate* unmanaged[Cdecl]<IntPtr, int, void>)Export("rd_kafka_mock_group_initial_rebalance_delay_ms"),
                PartitionSetLeader = (delegate* unmanaged[Cdecl]<IntPtr, IntPtr, int, int, int>)Export("rd_kafka_mock_partition_set_leader"),
                CoordinatorSet = (delegate* unmanaged[Cdecl]<IntPtr, IntPtr, IntPtr, int, int>)Export("rd_kafka_mock_coordinator_set"),
            };
        }

        // Confluent.Kafka tries the default build first and falls back to the self-contained centos8 build (the
        // default one needs libsasl2.so.3, which Debian lacks). Trying the same files in the same order binds the
        // same library, so one copy of librdkafka serves both the mock and the clients.
        private static IntPtr LoadLibrary()
        {
            var rid = RuntimeInformation.ProcessArchitecture == Architecture.Arm64 ? "arm64" : "x64";
            string[] names = OperatingSystem.IsWindows() ? [$"runtimes/win-{rid}/native/librdkafka.dll"]
                : OperatingSystem.IsMacOS() ? [$"runtimes/osx-{rid}/native/librdkafka.dylib"]
                : [$"runtimes/linux-{rid}/native/librdkafka.so", $"runtimes/linux-{rid}/native/centos8-librdkafka.so"];
            foreach (var name in names)
            {
                if (NativeLibrary.TryLoad(Path.Combine(AppContext.BaseDirectory, name), out var library)) return library;
            }
            throw new DllNotFoundException($"librdkafka was not found under {AppContext.BaseDirectory}runtimes (it comes with Confluent.Kafka).");
        }
    }
}
