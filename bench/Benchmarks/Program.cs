// Herald's benchmarks. Each prints a table measured side by side with its baseline in the same run.
//
//   dotnet run -c Release --project bench/Benchmarks -- --help            the commands
//   dotnet run -c Release --project bench/Benchmarks -- COMMAND --help    a command's options and their defaults
//
// All need what the AppHost's local mode needs (postgresql, redis-server); ingest also needs wrk.
using System.CommandLine;
using Herald.Bench.Cost;
using Herald.Bench.Delivery;
using Herald.Bench.Faults;
using Herald.Bench.Floor;
using Herald.Bench.Ingest;

var root = new RootCommand("Herald's benchmarks: each prints a table measured side by side with its baseline in the same run. "
                           + "All need what the AppHost's local mode needs (postgresql, redis-server); ingest also needs wrk.")
{
    IngestBenchmark.CreateCommand(),
    DeliveryBenchmark.CreateCommand(),
    FaultMatrix.CreateCommand(),
    CostBenchmark.CreateCommand("floor", floorOnly: true),
    CostBenchmark.CreateCommand("cost", floorOnly: false),
    // The floor's own programs, started by `floor` and `cost` as processes of their own.
    FloorProgram(FloorApi.Command, FloorApi.RunAsync),
    FloorProgram(FloorProcessor.Command, FloorProcessor.RunAsync),
};
// No termination handling of the parser's: Ctrl+C ends a run at once, as before (the benchmarks take no cancellation).
return await root.Parse(args).InvokeAsync(new InvocationConfiguration { ProcessTerminationTimeout = null });

static Command FloorProgram(string name, Func<FloorSettings, Task> run)
{
    var command = new Command(name, "One of the floor's programs; its settings come in the environment.") { Hidden = true };
    command.SetAction(_ => run(FloorSettings.FromEnvironment()));
    return command;
}
