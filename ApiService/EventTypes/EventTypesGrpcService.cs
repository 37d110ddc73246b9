using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Herald.ApiService.Grpc;
using Herald.Grpc.V1;

namespace Herald.ApiService.EventTypes;

internal sealed class EventTypesGrpcService(EventTypeService eventTypes) : Herald.Grpc.V1.EventTypes.EventTypesBase
{
    public override async Task<EventType> Create(EventTypeRequest request, ServerCallContext context) =>
        ToProto(await eventTypes.CreateAsync(context.Caller(), request.AppId,
            new EventTypeInput(request.Name, request.Description, request.Archived), context.CancellationToken));

    public override async Task<EventTypePage> List(ListEventTypesRequest request, ServerCallContext context)
    {
        var page = await eventTypes.ListAsync(context.Caller(), request.AppId, request.IncludeArchived, request.Page.ToPageRequest(), context.CancellationToken);
        return new EventTypePage { Data = { page.Data.Select(ToProto) }, Iterator = page.Iterator ?? "", Done = page.Done };
    }

    public override async Task<EventType> Get(EventTypeRef request, ServerCallContext context) =>
        ToProto(await eventTypes.GetAsync(context.Caller(), request.AppId, request.Name, context.CancellationToken));

    public override async Task<EventType> Update(EventTypeRequest request, ServerCallContext context) =>
        ToProto(await eventTypes.UpdateAsync(context.Caller(), request.AppId, request.Name,
            new EventTypeInput(null, request.Description, request.Archived), context.CancellationToken));

    public override async Task<Empty> Archive(EventTypeRef request, ServerCallContext context)
    {
        await eventTypes.ArchiveAsync(context.Caller(), request.AppId, request.Name, context.CancellationToken);
        return new Empty();
    }

    private static EventType ToProto(EventTypeResponse type) => new()
    {
        Name = type.Name,
        Description = type.Description,
        Archived = type.Archived,
        CreatedAt = type.CreatedAt.ToTimestamp(),
        UpdatedAt = type.UpdatedAt.ToTimestamp(),
    };
}
