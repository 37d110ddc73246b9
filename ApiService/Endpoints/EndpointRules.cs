using System.Security.Cryptography;
using System.Text.Json;
using System.Text.RegularExpressions;
using Herald.ApiService.EventTypes;
using Herald.ApiService.Problems;
using Herald.ApiService.Routing;
using Herald.Deliveries;

namespace Herald.ApiService.Endpoints;

/// <summary>What makes an endpoint definition acceptable.</summary>
public static partial class EndpointRules
{
    public const int MaxUrlLength = 2048;
    public const int MaxHeaders = 20;
    public const string SecretPrefix = "whsec_";

    // Herald sets these itself; letting an endpoint override them would break signing or HTTP framing.
    private static readonly HashSet<string> ReservedHeaders = new(StringComparer.OrdinalIgnoreCase)
    {
        "host", "content-type", "content-length", "content-encoding", "transfer-encoding", "connection", "keep-alive",
        "upgrade", "te", "trailer", "expect", "user-agent", "webhook-id", "webhook-timestamp", "webhook-signature",
    };

    /// <returns>The content filter compiled to the SQL/JSON path fan-out evaluates (null: none, or invalid).</returns>
    public static string? Validate(EndpointInput input, EndpointOptions options, Validation validation)
    {
        ValidateUrl(input.Url, options, validation);
        if (input.Description is { Length: > 1024 }) validation.Add("description", "At most 1024 characters.");
        validation.RequireStorable("description", input.Description);
        if (input.EventTypes is { } types)
        {
            if (types.Length > 100) validation.Add("eventTypes", "At most 100 event types; omit the filter to receive every type.");
            foreach (var type in types.Where(t => !EventTypeName.IsValid(t)).Take(5))
                validation.Add("eventTypes", $"'{type}': {EventTypeName.Rule}");
        }
        if (input.RateLimit is < 1 or > 100_000) validation.Add("rateLimit", "Deliveries per second, from 1 to 100,000, or null for no limit.");
        if (input.Headers is { } headers)
        {
            if (headers.Count > MaxHeaders) validation.Add("headers", $"At most {MaxHeaders} headers.");
            foreach (var (name, value) in headers)
            {
                if (!HeaderName().IsMatch(name)) validation.Add("headers", $"'{name}' is not a valid header name.");
                else if (ReservedHeaders.Contains(name)) validation.Add("headers", $"'{name}' is set by Herald and cannot be overridden.");
                if (value is null || value.Length > 4096 || !HeaderValue().IsMatch(value))
                    validation.Add("headers", $"The value of '{name}' must be at most 4096 visible ASCII characters, with spaces or tabs " +
                                              "only between them (RFC 9110 field-value).");
            }
        }
        if (input.Ordering is not null && !EndpointOrdering.All.Contains(input.Ordering))
            validation.Add("ordering", $"One of {string.Join(", ", EndpointOrdering.All)}.");
        if (input.RetryPolicy is { } policy)
            foreach (var (field, error) in policy.Problems("retryPolicy")) validation.Add(field, error);
        RoutingLabels.Validate(input.Channels, "channels", RoutingLabels.MaxChannels, validation);
        if (input.Secret is not null && !IsValidSecret(input.Secret))
            validation.Add("secret", $"'{SecretPrefix}' followed by the base64 of 24 to 64 random bytes; omit it to have one generated.");
        return CompileFilter(input, validation);
    }

    private static string? CompileFilter(EndpointInput input, Validation validation)
    {
        if (input.Filter is not { ValueKind: not JsonValueKind.Null } filter) return null;
        try
        {
            return ContentFilter.Compile(filter);
        }
        catch (ContentFilterException exception)
        {
            validation.Add("filter", exception.Message);
            return null;
        }
    }

    public static string NewSecret() => SecretPrefix + Convert.ToBase64String(RandomNumberGenerator.GetBytes(32));

    public static bool IsValidSecret(string secret)
    {
        if (!secret.StartsWith(SecretPrefix, StringComparison.Ordinal)) return false;
        var encoded = secret[SecretPrefix.Length..];
        var buffer = new byte[encoded.Length];
        return Convert.TryFromBase64String(encoded, buffer, out var length) && length is >= 24 and <= 64;
    }

    private static void ValidateUrl(string? url, EndpointOptions options, Validation validation)
    {
        if (string.IsNullOrWhiteSpace(url) || url.Length > MaxUrlLength || !StorableText.IsStorable(url) || !Uri.TryCreate(url, UriKind.Absolute, out var uri))
        {
            validation.Add("url", $"Required: an absolute https URL of at most {MaxUrlLength} characters.");
            return;
        }
        if (uri.Scheme != Uri.UriSchemeHttps && !(options.AllowHttpUrls && uri.Scheme == Uri.UriSchemeHttp))
            validation.Add("url", options.AllowHttpUrls ? "Only http and https URLs are allowed." : "Only https URLs are allowed.");
        else if (string.IsNullOrEmpty(uri.Host)) validation.Add("url", "The URL needs a host.");
        else if (!string.IsNullOrEmpty(uri.UserInfo)) validation.Add("url", "Credentials in the URL are not allowed; use a custom header.");
        else if (!string.IsNullOrEmpty(uri.Fragment)) validation.Add("url", "A URL fragment is never sent; remove it.");
    }

    // RFC 9110 token.
    [GeneratedRegex(@"^[A-Za-z0-9!#$%&'*+.^_`|~\-]{1,256}\z")]
    private static partial Regex HeaderName();

    // RFC 9110 field-value without obs-text: visible ASCII, with spaces and tabs only inside. (Anything else is sent as
    // bytes HttpClient refuses or a receiver reads differently.)
    [GeneratedRegex(@"^([\x21-\x7E]([\x20-\x7E\t]*[\x21-\x7E])?)?\z")]
    private static partial Regex HeaderValue();
}
