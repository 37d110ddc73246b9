// Herald's benchmarks. Each prints a table measured side by side with its baseline in the same run.
//
//   dotnet run -c Release --project bench/Benchmarks -- ingest   [--duration 10 --connections 64 --warmup 20]
//   dotnet run -c Release --project bench/Benchmarks -- delivery [--deliveries 20000 --endpoints 8 --rate 1000 --duration 10]
//   dotnet run -c Release --project bench/Benchmarks -- faults   [--list --only NAME --rate 100 --json FILE] (--help for more)
//   dotnet run -c Release --project bench/Benchmarks -- floor    [--messages 20000 --duration 10 --concurrency 64]
//   dotnet run -c Release --project bench/Benchmarks -- cost     [--messages 20000 --duration 10 --concurrency 64 --json FILE --only latency]
//                                                          (floor and cost also take AppHost settings: --Kafka:Producer:linger.ms=5)
//
// All need what the AppHost's local mode needs (postgresql, redis-server); ingest also needs wrk.
using Herald.Bench.Cost;
using Herald.Bench.Delivery;
using Herald.Bench.Faults;
using Herald.Bench.Floor;
using Herald.Bench.Ingest;

switch (args.FirstOrDefault())
{
    case "ingest":
        await IngestBenchmark.RunAsync(args[1..]);
        return 0;
    case "delivery":
        await DeliveryBenchmark.RunAsync(args[1..]);
        return 0;
    case "faults":
        return await FaultMatrix.RunAsync(args[1..]);
    case "floor":
        return await CostBenchmark.RunAsync(args[1..], floorOnly: true);
    case "cost":
        return await CostBenchmark.RunAsync(args[1..]);
    // The floor's own programs, started by `floor` and `cost` as processes of their own.
    case FloorApi.Command:
        await FloorApi.RunAsync(FloorSettings.FromEnvironment());
        return 0;
    case FloorProcessor.Command:
        await FloorProcessor.RunAsync(FloorSettings.FromEnvironment());
        return 0;
    default:
        Console.Error.WriteLine("usage: dotnet run -c Release --project bench/Benchmarks -- ingest|delivery|faults|floor|cost [options]");
        return 2;
}
