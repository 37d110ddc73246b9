using System.Text.Json.Serialization;

namespace Herald.Operator.Resources;

/// <summary>A Herald application (a tenant). Its <c>metadata.name</c> is what other resources' <c>applicationRef</c> name.</summary>
public sealed class HeraldApplication : CustomResource<HeraldApplicationSpec>
{
    public static readonly ResourceType Type = new("HeraldApplication", "heraldapplications");
}

public sealed class HeraldApplicationSpec
{
    /// <summary>The name shown in Herald; the resource's name when unset.</summary>
    [JsonPropertyName("name")] public string? Name { get; set; }
    /// <summary>Deliveries per second across the application's endpoints; unset: no limit.</summary>
    [JsonPropertyName("rateLimit")] public int? RateLimit { get; set; }
}
