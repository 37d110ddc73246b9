using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Herald.ApiService.Grpc;
using Herald.Grpc.V1;
using ApplicationInput = Herald.ApiService.Applications.ApplicationInput;

namespace Herald.ApiService.Applications;

internal sealed class ApplicationsGrpcService(ApplicationService applications) : Herald.Grpc.V1.Applications.ApplicationsBase
{
    public override async Task<Application> Create(CreateApplicationRequest request, ServerCallContext context) =>
        ToProto(await applications.CreateAsync(context.Caller(), ToInput(request.Application), context.CancellationToken));

    public override async Task<ApplicationPage> List(ListApplicationsRequest request, ServerCallContext context)
    {
        var page = await applications.ListAsync(context.Caller(), request.Page.ToPageRequest(), context.CancellationToken);
        return new ApplicationPage { Data = { page.Data.Select(ToProto) }, Iterator = page.Iterator ?? "", Done = page.Done };
    }

    public override async Task<Application> Get(ApplicationRef request, ServerCallContext context) =>
        ToProto(await applications.GetAsync(context.Caller(), request.AppId, context.CancellationToken));

    public override async Task<Application> Update(UpdateApplicationRequest request, ServerCallContext context) =>
        ToProto(await applications.UpdateAsync(context.Caller(), request.AppId, ToInput(request.Application), context.CancellationToken));

    public override async Task<Empty> Delete(ApplicationRef request, ServerCallContext context)
    {
        await applications.DeleteAsync(context.Caller(), request.AppId, context.CancellationToken);
        return new Empty();
    }

    private static ApplicationInput ToInput(Herald.Grpc.V1.ApplicationInput? input) =>
        new(input?.Name, input is { HasRateLimit: true } ? input.RateLimit : null, input?.RequireRegisteredEventTypes, input?.ValidatePayloads,
            input?.RetryPolicy.ToDomain());

    private static Application ToProto(ApplicationResponse application)
    {
        var proto = new Application
        {
            Id = application.Id,
            Name = application.Name,
            RequireRegisteredEventTypes = application.RequireRegisteredEventTypes,
            ValidatePayloads = application.ValidatePayloads,
            CreatedAt = application.CreatedAt.ToTimestamp(),
            UpdatedAt = application.UpdatedAt.ToTimestamp(),
            RetryPolicy = application.RetryPolicy.ToProto(),
        };
        if (application.RateLimit is { } rateLimit) proto.RateLimit = rateLimit;
        return proto;
    }
}
