using Herald.Database;
using Herald.Kafka;
using Herald.Secrets;
using Herald.Processor.Delivery;
using Herald.Processor.Fanout;
using Herald.Processor.Fifo;
using Herald.Processor.Scheduling;
using Herald.Processor.Telemetry;
using Herald.ServiceDefaults.Health;
using Herald.ServiceDefaults.Kafka;
using Herald.ServiceDefaults.Postgres;
using Herald.ServiceDefaults.Redis;

var builder = WebApplication.CreateBuilder(args);

builder.AddServiceDefaults();
builder.AddHeraldDatabase();
builder.AddHeraldRedis();
builder.AddKafka(DependencyRole.Required, Topics.All.ToSpecifications());
// Ready once it is a member of both groups: only then can it take work.
builder.AddConsumerGroups(MessageFanout.GroupId, DeliveryConsumer.GroupId);
builder.AddKafkaProducer();

// Keys PostgreSQL and Kafka never hold: they seal signing secrets and header values, and authenticate Herald's records.
builder.Services.AddSingleton(SealingKeys.FromSetting(builder.Configuration[SealingKeys.Setting]))
    .AddSingleton<SecretSealer>()
    .AddSingleton<RecordAuthenticator>();
builder.AddWebhookDelivery();
builder.Services.AddSingleton<DeliveryTelemetry>();
builder.Services.AddHostedService<BacklogSampler>();
// Messages → deliveries (fan-out), due deliveries and FIFO lines' next heads → tasks (schedulers), tasks → attempts
// (delivery).
builder.AddFanout();
builder.Services.AddHostedService<DueDeliveries>();
builder.Services.AddHostedService<FifoHeads>();
builder.Services.AddHostedService<DeliveryConsumer>();

var app = builder.Build();

app.UseDefaultEndpoints();

await app.Services.MigrateDatabaseAsync();
app.Run();
