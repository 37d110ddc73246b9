namespace Herald.Operator.Control;

/// <summary>
/// Tells the controllers of dependent kinds that an application has just been reconciled, so resources waiting for it
/// (an endpoint applied with its application) go again now rather than at the end of their back-off.
/// </summary>
public sealed class Dependencies
{
    public event Action<string>? ApplicationReady;

    public void Ready(string applicationName) => ApplicationReady?.Invoke(applicationName);
}
