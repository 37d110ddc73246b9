using Herald.AppHost.Infrastructure.Local;

namespace Herald.Bench.Faults.Injectors;

/// <summary>Brokers of the AppHost's embedded Kafka cluster taken off the network and brought back (ids 1..n). A
/// broker that is down drops its connections and refuses new ones; it keeps its logs and offsets.</summary>
public sealed class KafkaBrokers(KafkaMockCluster cluster)
{
    public IReadOnlyList<int> All { get; } = [.. Enumerable.Range(1, cluster.Brokers)];

    public void Down(IEnumerable<int> brokers)
    {
        foreach (var broker in brokers) cluster.SetBrokerDown(broker);
    }

    public void Up(IEnumerable<int> brokers)
    {
        foreach (var broker in brokers) cluster.SetBrokerUp(broker);
    }
}
