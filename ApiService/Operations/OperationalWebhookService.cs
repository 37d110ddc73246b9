using Herald.ApiService.Attempts;
using Herald.ApiService.Auth;
using Herald.ApiService.Endpoints;
using Herald.ApiService.Http;
using Herald.ApiService.Messages;
using Herald.Operations;

namespace Herald.ApiService.Operations;

/// <summary>
/// Operational webhooks: the operator's endpoints for Herald's own events. They are the endpoints of the reserved
/// operations application (<see cref="OperationalEvents.ApplicationId"/>) and the events its messages, so this is the
/// application layer of endpoints, messages and attempts for that application, behind an admin key: one validation,
/// one behaviour, the same delivery.
/// </summary>
public sealed class OperationalWebhookService(EndpointService endpoints, MessageService messages, AttemptService attempts)
{
    private const string Operations = OperationalEvents.ApplicationId;

    public Task<EndpointResponse> CreateEndpointAsync(Caller caller, EndpointInput input, CancellationToken cancellationToken) =>
        endpoints.CreateAsync(caller.ForOperationalWebhooks(), Operations, input, cancellationToken);

    public Task<Page<EndpointResponse>> ListEndpointsAsync(Caller caller, PageRequest page, CancellationToken cancellationToken) =>
        endpoints.ListAsync(caller.ForOperationalWebhooks(), Operations, page, cancellationToken);

    public Task<EndpointResponse> GetEndpointAsync(Caller caller, string endpointId, CancellationToken cancellationToken) =>
        endpoints.GetAsync(caller.ForOperationalWebhooks(), Operations, endpointId, cancellationToken);

    public Task<EndpointResponse> UpdateEndpointAsync(Caller caller, string endpointId, EndpointInput input, CancellationToken cancellationToken) =>
        endpoints.UpdateAsync(caller.ForOperationalWebhooks(), Operations, endpointId, input, cancellationToken);

    public Task DeleteEndpointAsync(Caller caller, string endpointId, CancellationToken cancellationToken) =>
        endpoints.DeleteAsync(caller.ForOperationalWebhooks(), Operations, endpointId, cancellationToken);

    public Task<EndpointSecretResponse> GetSecretAsync(Caller caller, string endpointId, CancellationToken cancellationToken) =>
        endpoints.GetSecretAsync(caller.ForOperationalWebhooks(), Operations, endpointId, cancellationToken);

    public Task RotateSecretAsync(Caller caller, string endpointId, RotateSecretInput input, CancellationToken cancellationToken) =>
        endpoints.RotateSecretAsync(caller.ForOperationalWebhooks(), Operations, endpointId, input, cancellationToken);

    public Task<Page<AttemptResponse>> ListEndpointAttemptsAsync(Caller caller, string endpointId, PageRequest page, CancellationToken cancellationToken) =>
        attempts.ByEndpointAsync(caller.ForOperationalWebhooks(), Operations, endpointId, AttemptFilter.None, page, cancellationToken);

    /// <summary>The operational events, newest first.</summary>
    public Task<Page<MessageResponse>> ListMessagesAsync(Caller caller, MessageFilter filter, PageRequest page, CancellationToken cancellationToken) =>
        messages.ListAsync(caller.ForOperationalWebhooks(), Operations, filter, page, cancellationToken);

    public Task<MessageResponse> GetMessageAsync(Caller caller, string messageId, CancellationToken cancellationToken) =>
        messages.GetAsync(caller.ForOperationalWebhooks(), Operations, messageId, cancellationToken);

    public Task<Page<AttemptResponse>> ListAttemptsAsync(Caller caller, string messageId, PageRequest page, CancellationToken cancellationToken) =>
        attempts.ByMessageAsync(caller.ForOperationalWebhooks(), Operations, messageId, AttemptFilter.None, page, cancellationToken);
}
