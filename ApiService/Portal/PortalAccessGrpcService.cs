using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Herald.ApiService.Grpc;
using Herald.Grpc.V1;

namespace Herald.ApiService.Portal;

internal sealed class PortalAccessGrpcService(PortalAccessService service) : Herald.Grpc.V1.PortalAccess.PortalAccessBase
{
    public override async Task<CreatedPortalAccess> Create(CreatePortalAccessRequest request, ServerCallContext context)
    {
        var input = new PortalAccessInput(request.HasExpirySeconds ? request.ExpirySeconds : null, request.ReadOnly);
        // A gRPC call's authority is the gRPC port, not where the portal is served: without PublicUrl the link is relative.
        var created = await service.CreateAsync(context.Caller(), request.AppId, input, origin: null, context.CancellationToken);
        return new CreatedPortalAccess
        {
            Access = new PortalAccessGrant
            {
                Id = created.Id, AppId = created.ApplicationId, ReadOnly = created.ReadOnly,
                CreatedAt = created.CreatedAt.ToTimestamp(), ExpiresAt = created.ExpiresAt.ToTimestamp(),
            },
            Url = created.Url,
            Token = created.Token,
        };
    }

    public override async Task<PortalAccessPage> List(ListPortalAccessRequest request, ServerCallContext context)
    {
        var page = await service.ListAsync(context.Caller(), request.AppId, request.Page.ToPageRequest(), context.CancellationToken);
        return new PortalAccessPage
        {
            Data =
            {
                page.Data.Select(a => new PortalAccessGrant
                {
                    Id = a.Id, AppId = a.ApplicationId, ReadOnly = a.ReadOnly, CreatedAt = a.CreatedAt.ToTimestamp(),
                    ExpiresAt = a.ExpiresAt.ToTimestamp(), RevokedAt = a.RevokedAt.ToTimestamp(),
                }),
            },
            Iterator = page.Iterator ?? "",
            Done = page.Done,
        };
    }

    public override async Task<Empty> Revoke(PortalAccessRef request, ServerCallContext context)
    {
        await service.RevokeAsync(context.Caller(), request.AppId, request.AccessId, context.CancellationToken);
        return new Empty();
    }
}
