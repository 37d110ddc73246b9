namespace Herald.ApiService.Idempotency;

/// <summary>A response that may carry a secret (an API key, an endpoint's header values). The idempotency store keeps
/// none of those: a repeat of its request is refused (409 / ALREADY_EXISTS) instead of replayed.</summary>
public interface ICarriesSecret
{
    bool CarriesSecret { get; }
}
