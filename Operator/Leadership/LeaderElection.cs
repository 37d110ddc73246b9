using Herald.Operator.Control;
using Herald.Operator.Telemetry;
using k8s;
using k8s.LeaderElection;
using k8s.LeaderElection.ResourceLock;
using Microsoft.Extensions.Options;

namespace Herald.Operator.Leadership;

/// <summary>
/// Two replicas, one active: the replica holding the <c>coordination.k8s.io</c> Lease runs the control loops; the
/// other waits, and takes the Lease within its duration once the leader stops renewing it (dies, or loses the API).
/// </summary>
public sealed class LeaderElection(
    IKubernetes kubernetes, IEnumerable<IController> controllers, OperatorMetrics metrics,
    IOptions<OperatorOptions> options, ILogger<LeaderElection> logger) : BackgroundService
{
    private readonly Lock _gate = new();
    private CancellationTokenSource? _term;
    private Task _running = Task.CompletedTask;

    public string Identity { get; } = options.Value.Identity ?? $"{Environment.MachineName}-{Guid.NewGuid().ToString("N")[..8]}";

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var o = options.Value;
        var lease = new LeaseLock(kubernetes, o.Namespace, o.LeaseName, Identity);
        using var elector = new LeaderElector(new LeaderElectionConfig(lease)
        {
            LeaseDuration = o.LeaseDuration, RenewDeadline = o.RenewDeadline, RetryPeriod = o.RetryPeriod,
        });
        elector.OnStartedLeading += () => StartTerm(stoppingToken);
        elector.OnStoppedLeading += EndTerm;
        elector.OnNewLeader += leader => logger.LogInformation("Leader is {Leader}", leader);
        elector.OnError += e => logger.LogWarning(e, "Leader election: {Message}", e.Message);
        try
        {
            while (!stoppingToken.IsCancellationRequested)
            {
                try
                {
                    await elector.RunAndTryToHoldLeadershipForeverAsync(stoppingToken);
                }
                catch (Exception e) when (e is not OperationCanceledException || !stoppingToken.IsCancellationRequested)
                {
                    // The elector lets a transport error (the API server unreachable) escape: the process must not stop
                    // for it — a blip would become a crash loop. Not leading until the Lease can be read again.
                    EndTerm();
                    logger.LogWarning(e, "Leader election could not reach the API server; trying again");
                    await Task.Delay(o.RetryPeriod, stoppingToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
                }
            }
        }
        finally
        {
            EndTerm();
            await _running;
            // Whether it led is the Lease's to say (the elector has already reported "stopped leading" on cancellation).
            await ReleaseAsync(lease);
        }
    }

    /// <summary>
    /// On a graceful stop (a rolling update, a scale-down) the Lease is handed back at once, as client-go's
    /// ReleaseOnCancel does: a standby sees no holder and takes it at its next retry instead of waiting out the lease.
    /// </summary>
    private async Task ReleaseAsync(LeaseLock lease)
    {
        try
        {
            using var timeout = new CancellationTokenSource(options.Value.RenewDeadline);
            var record = await lease.GetAsync(timeout.Token);
            if (record.HolderIdentity != Identity) return;
            await lease.UpdateAsync(new LeaderElectionRecord
            {
                HolderIdentity = "", LeaseDurationSeconds = 1, AcquireTime = record.AcquireTime, RenewTime = DateTime.UtcNow,
                LeaderTransitions = record.LeaderTransitions,
            }, timeout.Token);
            logger.LogInformation("{Identity} released the Lease", Identity);
        }
        catch (Exception e)
        {
            // The Lease then expires on its own: slower, not wrong.
            logger.LogWarning(e, "{Identity} could not release the Lease", Identity);
        }
    }

    private void StartTerm(CancellationToken stoppingToken)
    {
        lock (_gate)
        {
            logger.LogInformation("{Identity} leads: starting the control loops", Identity);
            _term = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
            var term = _term.Token;
            _running = Task.WhenAll(controllers.Select(c => Task.Run(() => c.RunAsync(term), CancellationToken.None)));
            metrics.Leading(true);
        }
    }

    private void EndTerm()
    {
        lock (_gate)
        {
            if (_term is null) return;
            logger.LogInformation("{Identity} no longer leads: stopping the control loops", Identity);
            metrics.Leading(false);
            _term.Cancel();
            _term.Dispose();
            _term = null;
        }
    }
}
