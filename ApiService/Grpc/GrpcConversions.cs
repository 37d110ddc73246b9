using System.Globalization;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Herald.ApiService.Auth;
using Herald.ApiService.Http;
using Herald.ApiService.Problems;

namespace Herald.ApiService.Grpc;

using V1 = Herald.Grpc.V1;

/// <summary>Small translations between protobuf and the application layer's records.</summary>
internal static class GrpcConversions
{
    public static Caller Caller(this ServerCallContext context) => context.GetHttpContext().Caller();

    public static PageRequest ToPageRequest(this V1.PageRequest? page) => PageRequest.Parse(
        page is null || page.Limit == 0 ? null : page.Limit.ToString(CultureInfo.InvariantCulture),
        page?.Iterator);

    public static Timestamp? ToTimestamp(this DateTimeOffset? time) => time is { } value ? Timestamp.FromDateTimeOffset(value) : null;

    /// <summary>A timestamp given by the client; one outside what DateTimeOffset holds (or with invalid nanos) is the
    /// client's error, where <see cref="Timestamp.ToDateTimeOffset"/> would throw.</summary>
    public static DateTimeOffset? ToDateTimeOffset(this Timestamp? value, string field)
    {
        if (value is null) return null;
        if (value.Seconds is < MinSeconds or > MaxSeconds || value.Nanos is < 0 or > 999_999_999)
            throw ApiError.Invalid(field, "A timestamp from 0001-01-01T00:00:00Z to 9999-12-31T23:59:59.999999999Z.");
        return value.ToDateTimeOffset();
    }

    private const long MinSeconds = -62_135_596_800; // 0001-01-01T00:00:00Z
    private const long MaxSeconds = 253_402_300_799; // 9999-12-31T23:59:59Z

    /// <summary>proto3 strings cannot be absent; an empty one means "not given".</summary>
    public static string? OrNull(this string value) => value.Length == 0 ? null : value;

    public static Herald.Deliveries.RetryPolicy? ToDomain(this V1.RetryPolicy? policy) => policy is null ? null : new(
        policy.Delays.Count == 0 ? null : [.. policy.Delays],
        policy.HasMaxAttempts ? policy.MaxAttempts : null,
        policy.Timeout.OrNull());

    public static V1.RetryPolicy? ToProto(this Herald.Deliveries.RetryPolicy? policy)
    {
        if (policy is null) return null;
        var proto = new V1.RetryPolicy { Delays = { policy.Delays ?? [] }, Timeout = policy.Timeout ?? "" };
        if (policy.MaxAttempts is { } attempts) proto.MaxAttempts = attempts;
        return proto;
    }
}
