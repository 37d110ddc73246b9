namespace Herald.Processor.Delivery;

/// <summary>Configuration section <c>Herald:Delivery</c>.</summary>
public sealed class DeliveryOptions
{
    public const string Section = "Herald:Delivery";

    public TimeSpan RequestTimeout { get; set; } = TimeSpan.FromSeconds(15);

    public string UserAgent { get; set; } = "Herald-Webhooks/1.0";

    /// <summary>CIDR networks delivery may connect to although they are internal (e.g. 127.0.0.0/8 for a local
    /// receiver). Empty by default: endpoints never reach the network Herald runs in.</summary>
    public List<string> AllowedNetworks { get; set; } = [];
}
