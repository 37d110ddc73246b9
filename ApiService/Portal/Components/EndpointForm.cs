using System.Globalization;
using Herald.ApiService.Endpoints;
using Herald.ApiService.Problems;

namespace Herald.ApiService.Portal.Components;

/// <summary>Reads <see cref="EndpointFields"/> back into the API's <see cref="EndpointInput"/>; the application layer
/// validates it as it validates REST and gRPC input. What the form does not show (ordering, retry policy, channels,
/// content filter: set through the API) is taken from <paramref name="current"/>, or left unset for a new endpoint.</summary>
public static class EndpointForm
{
    public static EndpointInput Read(IFormCollection form, EndpointResponse? current)
    {
        var disabled = current?.Disabled ?? false;
        string[]? eventTypes = null;
        if (form["scope"] == "selected")
        {
            eventTypes = [.. form["eventTypes"].Where(t => !string.IsNullOrWhiteSpace(t)).Select(t => t!.Trim())];
            if (form["eventTypesText"].ToString() is { Length: > 0 } text)
                eventTypes = [.. eventTypes, .. text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)];
            if (eventTypes.Length == 0) throw ApiError.Invalid("eventTypes", "Choose at least one event type, or all of them.");
        }

        int? rateLimit = null;
        if (form["rateLimit"].ToString().Trim() is { Length: > 0 } limit)
            rateLimit = int.TryParse(limit, NumberStyles.None, CultureInfo.InvariantCulture, out var value)
                ? value
                : throw ApiError.Invalid("rateLimit", "Deliveries per second, a whole number, or empty for no limit.");

        var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var line in form["headers"].ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var colon = line.IndexOf(':');
            if (colon <= 0) throw ApiError.Invalid("headers", $"'{line}' is not 'Name: value'.");
            headers[line[..colon].Trim()] = line[(colon + 1)..].Trim();
        }

        var description = form["description"].ToString().Trim();
        var shown = new EndpointInput(form["url"].ToString().Trim(), description, eventTypes, disabled, rateLimit, headers, Secret: null);
        return current is null ? shown : current.ToInput() with
        {
            Url = shown.Url, Description = shown.Description, EventTypes = shown.EventTypes, RateLimit = shown.RateLimit, Headers = shown.Headers,
        };
    }
}
