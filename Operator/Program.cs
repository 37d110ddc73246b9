using Herald.Operator;

var builder = WebApplication.CreateBuilder(args);

// Health, metrics and graceful shutdown as every Herald service.
builder.AddServiceDefaults();
// Custom resources → Herald: watches, a work queue, reconcilers, all run only while this replica holds the Lease.
builder.AddHeraldOperator();

var app = builder.Build();

app.UseDefaultEndpoints();

app.Run();
