using Herald.ApiService.Problems;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Herald.ApiService.Applications;

public enum Quota
{
    ApiKeys,
    Endpoints,
    EventTypes,
}

/// <summary>Checks an application's room for one more thing inside the transaction that creates it. The application's
/// row is locked (FOR NO KEY UPDATE: creations of one application queue, while its messages' foreign-key checks do
/// not wait), so concurrent creations cannot overshoot the limit together.</summary>
public sealed class ApplicationQuotas(IOptions<QuotaOptions> options)
{
    public async Task RequireRoomAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, string applicationId, Quota quota,
        CancellationToken cancellationToken)
    {
        var (limit, count, what, setting) = quota switch
        {
            Quota.ApiKeys => (options.Value.ApiKeysPerApplication,
                "SELECT count(*) FROM api_keys WHERE application_id = $1 AND revoked_at IS NULL", "unrevoked API keys", nameof(QuotaOptions.ApiKeysPerApplication)),
            Quota.Endpoints => (options.Value.EndpointsPerApplication,
                "SELECT count(*) FROM endpoints WHERE application_id = $1", "endpoints", nameof(QuotaOptions.EndpointsPerApplication)),
            _ => (options.Value.EventTypesPerApplication,
                "SELECT count(*) FROM event_types WHERE application_id = $1", "event types", nameof(QuotaOptions.EventTypesPerApplication)),
        };
        await using (var lockRow = new NpgsqlCommand("SELECT 1 FROM applications WHERE id = $1 FOR NO KEY UPDATE", connection, transaction))
        {
            lockRow.Parameters.Add(new() { Value = applicationId });
            if (await lockRow.ExecuteScalarAsync(cancellationToken) is null) throw ApiError.NotFound("application");
        }
        await using var counting = new NpgsqlCommand(count, connection, transaction);
        counting.Parameters.Add(new() { Value = applicationId });
        var held = (long)(await counting.ExecuteScalarAsync(cancellationToken))!;
        if (held >= limit)
        {
            throw new ApiError(ApiErrorKind.Forbidden,
                $"The application has {held} {what}, its limit (Herald:Quotas:{setting} = {limit}). Remove one first, or ask the operator to raise the limit.");
        }
    }
}
