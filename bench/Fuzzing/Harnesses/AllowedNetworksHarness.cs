using System.Net;
using System.Text;
using Herald.Processor.Delivery;
using Herald.Processor.Delivery.Ssrf;

namespace Herald.Fuzzing.Harnesses;

/// <summary>
/// <c>Herald:Delivery:AllowedNetworks</c> (one CIDR a line, as an operator writes them) through the start-up check
/// (<see cref="AllowedNetworksValidation"/>) and <see cref="DestinationPolicy.TryParseNetwork"/>; then the policy built
/// from what was accepted judges addresses: each line read as an address, and the input's own bytes as a raw IPv4 and
/// IPv6 address (what DNS can answer). An accepted network is written exactly, so it reads back the same and allows
/// its own base address.
/// </summary>
public sealed class AllowedNetworksHarness : IHarness
{
    public string Name => "allowed-networks";

    public string Parses => "Herald:Delivery:AllowedNetworks CIDRs; the SSRF policy's address classification";

    public void Run(ReadOnlySpan<byte> input)
    {
        var lines = Encoding.UTF8.GetString(input).Split('\n');
        new AllowedNetworksValidation().Validate(null, new DeliveryOptions { AllowedNetworks = [.. lines] });

        var accepted = new List<string>();
        foreach (var line in lines)
        {
            if (!DestinationPolicy.TryParseNetwork(line, out var network)) continue;
            accepted.Add(line);
            InvariantBroken.Unless(DestinationPolicy.TryParseNetwork(network.ToString(), out var again) && again.Equals(network),
                $"'{line}' was read as {network}, which does not read back the same");
            InvariantBroken.Unless(new DestinationPolicy([network]).Allows(network.BaseAddress),
                $"{network} does not allow its own base address");
        }

        // Start-up builds the policy from the same settings the validation passed: it must not throw for any of them.
        var policy = DestinationPolicy.FromSettings(accepted);
        foreach (var line in lines)
        {
            if (IPAddress.TryParse(line.Trim(), out var address)) Judge(policy, address);
        }
        if (input.Length >= 4) Judge(policy, new IPAddress(input[..4]));
        if (input.Length >= 16) Judge(policy, new IPAddress(input[..16]));
    }

    private static void Judge(DestinationPolicy policy, IPAddress address)
    {
        var strict = DestinationPolicy.Strict.Refusal(address);
        var allowed = policy.Refusal(address);
        // An allow-list only ever adds: what the strict policy lets through, every policy does.
        InvariantBroken.Unless(strict is not null || allowed is null, $"{address} is allowed by default but refused with an allow-list");
    }
}
