using Microsoft.Extensions.Options;

namespace Herald.Processor.Delivery.Ssrf;

/// <summary>Fails start-up on an <c>Herald:Delivery:AllowedNetworks</c> entry that is not a CIDR network, rather than
/// at the first delivery (or never, silently allowing less than intended).</summary>
public sealed class AllowedNetworksValidation : IValidateOptions<DeliveryOptions>
{
    public ValidateOptionsResult Validate(string? name, DeliveryOptions options)
    {
        var failures = options.AllowedNetworks
            .Select((cidr, index) => (cidr, index))
            .Where(entry => !DestinationPolicy.TryParseNetwork(entry.cidr, out _))
            .Select(entry => $"{DeliveryOptions.Section}:AllowedNetworks:{entry.index} '{entry.cidr}' is not a CIDR network "
                + "such as 10.0.0.0/8 or fd00::/8 (a prefix length is required, no bits may be set after it, and IPv4 networks are written as IPv4).")
            .ToList();
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
