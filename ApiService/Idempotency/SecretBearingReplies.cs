using Herald.ApiService.Idempotency;

// The gRPC replies that carry a secret, marked on the generated (partial) message classes.
namespace Herald.Grpc.V1;

public sealed partial class CreatedApiKey : ICarriesSecret
{
    bool ICarriesSecret.CarriesSecret => true;
}

public sealed partial class Endpoint : ICarriesSecret
{
    bool ICarriesSecret.CarriesSecret => Headers.Count > 0;
}
