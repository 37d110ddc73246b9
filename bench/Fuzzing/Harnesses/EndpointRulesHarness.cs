using Herald.ApiService.Endpoints;
using Herald.ApiService.Http;
using Herald.ApiService.Problems;
using Herald.Processor.Delivery;

namespace Herald.Fuzzing.Harnesses;

/// <summary>
/// The body of create/update-endpoint, as the handler reads it (<see cref="JsonBody.ReadJsonAsync{T}"/>) and then
/// validates it (<see cref="EndpointRules.Validate"/>), with http URLs allowed and not. What passes must be sendable:
/// the Processor builds its request from the URL and adds each header, and a header HttpClient drops or refuses would be
/// an endpoint that silently never gets it.
/// </summary>
public sealed class EndpointRulesHarness : IHarness
{
    public string Name => "endpoint-rules";

    public string Parses => "create/update-endpoint JSON: URL, headers, event types, rate limit, secret";

    private static readonly EndpointOptions HttpsOnly = new();
    private static readonly EndpointOptions HttpAllowed = new() { AllowHttpUrls = true };

    public void Run(ReadOnlySpan<byte> input)
    {
        EndpointInput endpoint;
        try
        {
            endpoint = Requests.Json(input).Request.ReadJsonAsync<EndpointInput>(CancellationToken.None).GetAwaiter().GetResult();
        }
        catch (ApiError error) when (error.Kind == ApiErrorKind.Validation)
        {
            return;
        }

        foreach (var options in (EndpointOptions[])[HttpsOnly, HttpAllowed])
        {
            var validation = new Validation();
            EndpointRules.Validate(endpoint, options, validation);
            if (validation.IsValid) Sendable(endpoint, options);
            else Refused(validation);
        }
        if (endpoint.Secret is { } secret) EndpointRules.IsValidSecret(secret);
    }

    private static void Sendable(EndpointInput endpoint, EndpointOptions options)
    {
        var url = new Uri(endpoint.Url!, UriKind.Absolute);
        InvariantBroken.Unless(url.Scheme == Uri.UriSchemeHttps || (options.AllowHttpUrls && url.Scheme == Uri.UriSchemeHttp),
            $"accepted a {url.Scheme} URL");
        InvariantBroken.Unless(StorableText.IsStorable(endpoint.Url) && StorableText.IsStorable(endpoint.Description),
            "accepted text PostgreSQL cannot store");
        using var request = new HttpRequestMessage(HttpMethod.Post, url) { Content = new StringContent("{}", System.Text.Encoding.UTF8, "application/json") };
        var unsent = WebhookSender.AddHeaders(request, endpoint.Headers ?? []);
        InvariantBroken.Unless(unsent.Count == 0, $"accepted header '{unsent.FirstOrDefault()}', which HttpClient does not send with a request");
        InvariantBroken.Unless(endpoint.Secret is null || EndpointRules.IsValidSecret(endpoint.Secret), "accepted an invalid secret");
    }

    // The handler throws exactly this: a 400 with the fields.
    private static void Refused(Validation validation)
    {
        try
        {
            validation.ThrowIfInvalid();
        }
        catch (ApiError error) when (error.Kind == ApiErrorKind.Validation && error.Errors.Count > 0)
        {
            return;
        }
        throw new InvariantBroken("a refused endpoint did not raise a validation error");
    }
}
