using Npgsql;

namespace Herald.Processor.Scheduling;

/// <summary>Work done in batches from PostgreSQL on a timer: a pass every interval, and at once again while a pass
/// finds a full batch (more is waiting). A pass PostgreSQL could not serve is logged and tried at the next tick.</summary>
public static class DatabasePasses
{
    /// <param name="pass">One batch; returns how many items it handled.</param>
    public static async Task RunAsync(TimeSpan interval, int batchSize, Func<CancellationToken, Task<int>> pass, string what,
        TimeProvider time, ILogger logger, CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(interval, time);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                try
                {
                    while (await pass(stoppingToken) == batchSize && !stoppingToken.IsCancellationRequested)
                    {
                    }
                }
                catch (Exception exception) when (exception is NpgsqlException or TimeoutException)
                {
                    logger.LogWarning("Could not {What}: {Reason}", what, exception.Message);
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }
}
