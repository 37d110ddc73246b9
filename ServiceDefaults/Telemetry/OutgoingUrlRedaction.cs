using System.Diagnostics;
using OpenTelemetry;

namespace Herald.ServiceDefaults.Telemetry;

/// <summary>
/// HTTP client spans keep the origin of the URL they called, not its path, query or user info. Herald's outgoing
/// requests are webhooks to customers' URLs, which often carry a credential (…/hooks/T0/B0/&lt;secret&gt;, ?token=),
/// and spans leave Herald for whatever collector is configured; logs name endpoints by id for the same reason. The
/// endpoint's id is on the delivery span above the request.
/// </summary>
public sealed class OutgoingUrlRedaction : BaseProcessor<Activity>
{
    /// <summary>HttpClient's own activity source (.NET 9 and later).</summary>
    public const string HttpClientSource = "System.Net.Http";

    public const string Redacted = "REDACTED";

    public override void OnEnd(Activity data)
    {
        if (data.Source.Name != HttpClientSource || data.GetTagItem("url.full") is not string full) return;
        data.SetTag("url.full", Redact(full));
    }

    /// <summary><c>scheme://host[:port]/REDACTED</c> when anything follows the origin; an unparsable value entirely.</summary>
    public static string Redact(string url)
    {
        if (!Uri.TryCreate(url, UriKind.Absolute, out var uri)) return Redacted;
        var origin = $"{uri.Scheme}://{uri.Authority}";
        return uri.AbsolutePath == "/" && uri.Query.Length == 0 && uri.UserInfo.Length == 0 ? origin + "/" : $"{origin}/{Redacted}";
    }
}
