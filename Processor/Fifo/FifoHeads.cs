using Herald.Processor.Delivery;
using Herald.Processor.Scheduling;
using Microsoft.Extensions.Options;

namespace Herald.Processor.Fifo;

/// <summary>Every scheduler interval, advances FIFO lines left without a head: a replica that died between recording
/// a head's outcome and advancing, a resend or recover through the API, a message queued by the relay's late
/// publication. Every replica runs it; <see cref="FifoLines"/> makes that safe.</summary>
internal sealed class FifoHeads(FifoLines lines, IOptions<DeliveryOptions> options, TimeProvider time, ILogger<FifoHeads> logger) : BackgroundService
{
    protected override Task ExecuteAsync(CancellationToken stoppingToken) =>
        DatabasePasses.RunAsync(options.Value.SchedulerInterval, options.Value.SchedulerBatchSize, AdvanceStalledAsync,
            "advance FIFO lines", time, logger, stoppingToken);

    private async Task<int> AdvanceStalledAsync(CancellationToken cancellationToken)
    {
        var stalled = await lines.StalledAsync(options.Value.SchedulerBatchSize, cancellationToken);
        await lines.AdvanceAsync(stalled, cancellationToken);
        return stalled.Count;
    }
}
