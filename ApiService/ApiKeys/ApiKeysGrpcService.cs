using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Herald.ApiService.Grpc;
using Herald.Grpc.V1;

namespace Herald.ApiService.ApiKeys;

internal sealed class ApiKeysGrpcService(ApiKeyService keys) : Herald.Grpc.V1.ApiKeys.ApiKeysBase
{
    public override async Task<CreatedApiKey> Create(CreateApiKeyRequest request, ServerCallContext context)
    {
        var created = await keys.CreateAsync(context.Caller(), request.AppId.OrNull(), new ApiKeyInput(request.Name), context.CancellationToken);
        return new CreatedApiKey
        {
            Key = created.Key,
            ApiKey = new ApiKey
            {
                Id = created.Id, Name = created.Name, Prefix = created.Prefix, AppId = created.ApplicationId ?? "",
                CreatedAt = created.CreatedAt.ToTimestamp(),
            },
        };
    }

    public override async Task<ApiKeyPage> List(ListApiKeysRequest request, ServerCallContext context)
    {
        var page = await keys.ListAsync(context.Caller(), request.AppId.OrNull(), request.Page.ToPageRequest(), context.CancellationToken);
        return new ApiKeyPage
        {
            Data =
            {
                page.Data.Select(key => new ApiKey
                {
                    Id = key.Id, Name = key.Name, Prefix = key.Prefix, AppId = key.ApplicationId ?? "",
                    CreatedAt = key.CreatedAt.ToTimestamp(), RevokedAt = key.RevokedAt.ToTimestamp(),
                }),
            },
            Iterator = page.Iterator ?? "",
            Done = page.Done,
        };
    }

    public override async Task<Empty> Revoke(ApiKeyRef request, ServerCallContext context)
    {
        await keys.RevokeAsync(context.Caller(), request.AppId.OrNull(), request.KeyId, context.CancellationToken);
        return new Empty();
    }
}
