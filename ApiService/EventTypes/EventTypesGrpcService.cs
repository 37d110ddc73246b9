using System.Text;
using System.Text.Json;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Herald.ApiService.Grpc;
using Herald.ApiService.Problems;
using Herald.Grpc.V1;

namespace Herald.ApiService.EventTypes;

internal sealed class EventTypesGrpcService(EventTypeService eventTypes) : Herald.Grpc.V1.EventTypes.EventTypesBase
{
    public override async Task<EventType> Create(EventTypeRequest request, ServerCallContext context) =>
        ToProto(await eventTypes.CreateAsync(context.Caller(), request.AppId,
            new EventTypeInput(request.Name, request.Description, request.Archived,
                Json("schema_json", request.HasSchemaJson, request.SchemaJson), Json("examples_json", request.HasExamplesJson, request.ExamplesJson)),
            context.CancellationToken));

    public override async Task<EventTypePage> List(ListEventTypesRequest request, ServerCallContext context)
    {
        var page = await eventTypes.ListAsync(context.Caller(), request.AppId, request.IncludeArchived, request.Page.ToPageRequest(), context.CancellationToken);
        return new EventTypePage { Data = { page.Data.Select(ToProto) }, Iterator = page.Iterator ?? "", Done = page.Done };
    }

    public override async Task<EventType> Get(EventTypeRef request, ServerCallContext context) =>
        ToProto(await eventTypes.GetAsync(context.Caller(), request.AppId, request.Name, context.CancellationToken));

    public override async Task<EventType> Update(EventTypeRequest request, ServerCallContext context) =>
        ToProto(await eventTypes.UpdateAsync(context.Caller(), request.AppId, request.Name,
            new EventTypeInput(null, request.Description, request.Archived,
                Json("schema_json", request.HasSchemaJson, request.SchemaJson), Json("examples_json", request.HasExamplesJson, request.ExamplesJson)),
            context.CancellationToken));

    public override async Task<Empty> Archive(EventTypeRef request, ServerCallContext context)
    {
        await eventTypes.ArchiveAsync(context.Caller(), request.AppId, request.Name, context.CancellationToken);
        return new Empty();
    }

    /// <summary>The JSON a field holds, as REST would have read it: unset is "left out" (Undefined), empty is null.</summary>
    private static JsonElement Json(string field, bool set, string text)
    {
        if (!set) return default;
        if (text.Length == 0) return JsonDocument.Parse("null").RootElement.Clone();
        var utf8 = Encoding.UTF8.GetBytes(text);
        try
        {
            using var document = JsonDocument.Parse(utf8);
            if (StorableText.FindUnstorable(utf8, allowNul: false) is not null) throw ApiError.Invalid(field, StorableText.Rule);
            return document.RootElement.Clone();
        }
        catch (JsonException exception)
        {
            throw ApiError.Invalid(field, $"Not valid JSON: {exception.Message}");
        }
    }

    private static EventType ToProto(EventTypeResponse type) => new()
    {
        Name = type.Name,
        Description = type.Description,
        Archived = type.Archived,
        CreatedAt = type.CreatedAt.ToTimestamp(),
        UpdatedAt = type.UpdatedAt.ToTimestamp(),
        SchemaJson = type.Schema?.Text ?? "",
        ExamplesJson = { type.Examples.Select(e => e.Text) },
    };
}
