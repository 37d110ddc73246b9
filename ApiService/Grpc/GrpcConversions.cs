using System.Globalization;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Herald.ApiService.Auth;
using Herald.ApiService.Http;

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

    /// <summary>proto3 strings cannot be absent; an empty one means "not given".</summary>
    public static string? OrNull(this string value) => value.Length == 0 ? null : value;
}
