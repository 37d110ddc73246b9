namespace Herald.Processor.Delivery;

/// <summary>Configuration section <c>Herald:Delivery</c>.</summary>
public sealed class DeliveryOptions
{
    public const string Section = "Herald:Delivery";

    public TimeSpan RequestTimeout { get; set; } = TimeSpan.FromSeconds(15);

    public string UserAgent { get; set; } = "Herald-Webhooks/1.0";
}
