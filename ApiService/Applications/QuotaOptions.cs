namespace Herald.ApiService.Applications;

/// <summary>Configuration section <c>Herald:Quotas</c>: how much one application may hold. A stolen or careless
/// application key cannot mint keys without end, and one message cannot fan out to thousands of endpoints.</summary>
public sealed class QuotaOptions
{
    public const string Section = "Herald:Quotas";

    /// <summary>Unrevoked API keys per application.</summary>
    public int ApiKeysPerApplication { get; set; } = 100;

    /// <summary>Endpoints per application: the most deliveries one message can become.</summary>
    public int EndpointsPerApplication { get; set; } = 250;

    /// <summary>Event types per application, archived ones included.</summary>
    public int EventTypesPerApplication { get; set; } = 500;
}
