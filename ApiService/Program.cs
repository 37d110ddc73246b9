using Herald.ApiService;
using Herald.ApiService.ApiKeys;
using Herald.ApiService.Applications;
using Herald.ApiService.Attempts;
using Herald.ApiService.Auth;
using Herald.ApiService.Endpoints;
using Herald.ApiService.EventTypes;
using Herald.ApiService.Idempotency;
using Herald.ApiService.Messages;
using Herald.ApiService.RateLimiting;
using Herald.Database;
using Herald.Kafka;
using Herald.ServiceDefaults.Kafka;
using Herald.ServiceDefaults.Postgres;

var builder = WebApplication.CreateBuilder(args);

builder.AddServiceDefaults();
builder.AddHeraldDatabase();
builder.AddRedisClient("redis");
builder.AddKafka(Topics.All.ToSpecifications());
builder.AddKafkaProducer();

builder.AddApiKeyAuthentication();
builder.AddHeraldApi();

var app = builder.Build();

app.UseExceptionHandler();
app.UseStatusCodePages();
app.UseAuthentication();
app.UseMiddleware<ApiKeyRateLimiter>();
app.UseAuthorization();

if (app.Environment.IsDevelopment())
{
    app.MapOpenApi();
}
app.MapDefaultEndpoints();

var api = app.MapGroup("/api/v1")
    .RequireAuthorization()
    .AddEndpointFilter<IdempotencyFilter>();
api.MapApplications();
api.MapApiKeys();
api.MapEventTypes();
api.MapWebhookEndpoints();
api.MapMessages();
api.MapAttempts();

await app.Services.MigrateDatabaseAsync();
app.Run();
