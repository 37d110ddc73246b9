namespace Herald.Processor.Operations;

/// <summary>Configuration section <c>Herald:OperationalWebhooks</c>.</summary>
public sealed class OperationalWebhookOptions
{
    public const string Section = "Herald:OperationalWebhooks";

    /// <summary>At most one <c>message.attempt.failing</c> per endpoint within this long: a flapping endpoint tells the
    /// operator once an hour, not on every turn. Zero: one for every failure that follows a success.</summary>
    public TimeSpan FailingDebounce { get; set; } = TimeSpan.FromHours(1);
}
