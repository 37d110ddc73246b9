using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace Herald.Processor.Delivery.Ssrf;

public static class DestinationGuardExtensions
{
    /// <summary>The policy and connector delivery connects through, with <c>Herald:Delivery:AllowedNetworks</c>
    /// validated when the host starts.</summary>
    public static IServiceCollection AddDestinationGuard(this IServiceCollection services)
    {
        services.AddOptions<DeliveryOptions>().ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<DeliveryOptions>, AllowedNetworksValidation>());
        services.TryAddSingleton(provider =>
            DestinationPolicy.FromSettings(provider.GetRequiredService<IOptions<DeliveryOptions>>().Value.AllowedNetworks));
        services.TryAddSingleton(provider => new DestinationConnector(provider.GetRequiredService<DestinationPolicy>()));
        return services;
    }
}
