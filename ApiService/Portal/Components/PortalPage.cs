using Herald.ApiService.Auth;
using Herald.ApiService.Problems;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Components;

namespace Herald.ApiService.Portal.Components;

/// <summary>A page of a portal session: it acts as the session's caller, through the same application services as REST
/// and gRPC, and shows their errors as the API words them.</summary>
[Authorize(Policy = PortalSessions.Policy)]
public abstract class PortalPage : ComponentBase
{
    [CascadingParameter] public HttpContext HttpContext { get; set; } = null!;

    [Inject] protected NavigationManager Navigation { get; set; } = null!;

    protected Caller Caller => Caller.From(HttpContext.User) ?? throw new InvalidOperationException("The portal policy admits only sessions.");

    protected string AppId => Caller.ApplicationId!;

    protected CancellationToken Aborted => HttpContext.RequestAborted;

    /// <summary>The last action's or load's error, and its per-field messages.</summary>
    protected ApiError? Problem { get; private set; }

    /// <summary>Runs an application-layer call; an <see cref="ApiError"/> becomes <see cref="Problem"/> (and the
    /// response's status), never a server error.</summary>
    protected async Task<bool> TryAsync(Func<Task> action)
    {
        try
        {
            await action();
            return true;
        }
        catch (ApiError error) when (error.Kind == ApiErrorKind.NotFound && !HttpContext.Response.HasStarted)
        {
            // Blazor's own not-found page, with its 404: another application's resources look exactly like missing ones.
            Navigation.NotFound();
            return false;
        }
        catch (ApiError error)
        {
            Problem = error;
            if (!HttpContext.Response.HasStarted)
            {
                HttpContext.Response.StatusCode = error.Kind.StatusCode();
                // The page says what went wrong; the API's ProblemDetails body must not replace it.
                if (HttpContext.Features.Get<Microsoft.AspNetCore.Diagnostics.IStatusCodePagesFeature>() is { } statusPages) statusPages.Enabled = false;
            }
            return false;
        }
    }

    /// <summary>After a change: back to a page by GET, so a reload does not post again; <paramref name="done"/> is
    /// shown there.</summary>
    protected void Done(string path, string done) =>
        Navigation.NavigateTo($"{path}{(path.Contains('?') ? '&' : '?')}done={Uri.EscapeDataString(done)}");

    /// <summary>JSON as stored (a payload, a schema), indented for reading; as it is if it is not JSON.</summary>
    protected static string Indented(string json)
    {
        try
        {
            using var document = System.Text.Json.JsonDocument.Parse(json);
            return System.Text.Json.JsonSerializer.Serialize(document.RootElement, Indent);
        }
        catch (System.Text.Json.JsonException)
        {
            return json;
        }
    }

    private static readonly System.Text.Json.JsonSerializerOptions Indent = new()
    {
        WriteIndented = true,
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    protected static string Ago(DateTimeOffset time) => time.ToString("yyyy-MM-dd HH:mm:ss 'UTC'", System.Globalization.CultureInfo.InvariantCulture);
}
