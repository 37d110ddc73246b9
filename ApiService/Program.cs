using Herald.ApiService;
using Herald.ApiService.ApiKeys;
using Herald.ApiService.Applications;
using Herald.ApiService.Attempts;
using Herald.ApiService.Stats;
using Herald.ApiService.Auth;
using Herald.ApiService.Deliveries;
using Herald.ApiService.Endpoints;
using Herald.ApiService.EventTypes;
using Herald.ApiService.Grpc;
using Herald.ApiService.Http;
using Herald.ApiService.Idempotency;
using Herald.ApiService.Messages;
using Herald.ApiService.Operations;
using Herald.ApiService.Portal;
using Herald.ApiService.Problems;
using Herald.ApiService.RateLimiting;
using Herald.Database;
using Herald.Kafka;
using Herald.Secrets;
using Herald.ServiceDefaults.Health;
using Herald.ServiceDefaults.Kafka;
using Herald.ServiceDefaults.Postgres;
using Herald.ServiceDefaults.Redis;
using Scalar.AspNetCore;

var builder = WebApplication.CreateBuilder(args);

builder.AddServiceDefaults();
// Requests wait on PostgreSQL seconds at most; the Processor's batches may take longer.
builder.AddHeraldDatabase(pool => (pool.ConnectTimeout, pool.CommandTimeout) = (TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(2)));
builder.AddHeraldRedis();
// The API serves without Kafka: what it accepts waits in PostgreSQL (the outbox) until Kafka is back.
builder.AddKafka(DependencyRole.Optional, Topics.All.ToSpecifications());
// The publication is on every webhook's way (create-message answers at commit, before it): the default short linger.
builder.AddKafkaProducer();

// Keys PostgreSQL and Kafka never hold: they seal signing secrets and header values, and authenticate Herald's records.
builder.Services.AddSingleton(SealingKeys.FromSetting(builder.Configuration[SealingKeys.Setting]))
    .AddSingleton<SecretSealer>()
    .AddSingleton<RecordAuthenticator>();
builder.AddApiKeyAuthentication();
builder.AddHeraldApi();
builder.AddHeraldGrpc();
builder.AddHeraldPortal();

var app = builder.Build();

app.UseDefaultEndpoints();
app.UseExceptionHandler();
app.UseStatusCodePages();
app.UseRequestBodyLimit();
// Before authentication, which may look a key up: while PostgreSQL is known to be down, answer 503 at once.
app.UseMiddleware<DatabaseGate>();
app.UseAuthentication();
app.UseMiddleware<ApiKeyRateLimiter>();
app.UseAuthorization();
app.UseAntiforgery();
app.UseMiddleware<StorableGrpcRequests>();

// The contract is public (no key needed to read it); the interactive reference is for development.
app.MapOpenApi();
if (app.Environment.IsDevelopment()) app.MapScalarApiReference();

var api = app.MapGroup("/api/v1")
    .RequireAuthorization()
    .AddEndpointFilter<StorableInputFilter>()
    .AddEndpointFilter<IdempotencyFilter>();
api.MapApplications();
api.MapApiKeys();
api.MapEventTypes();
api.MapWebhookEndpoints();
api.MapMessages();
api.MapAttempts();
api.MapEndpointStats();
api.MapDeliveries();
api.MapPortalAccess();
api.MapOperationalWebhooks();
app.MapHeraldGrpc();
app.MapHeraldPortal();

await app.Services.MigrateDatabaseAsync();
app.Run();
