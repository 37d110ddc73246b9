using Herald.Database;
using Herald.Kafka;
using Herald.Processor.Delivery;
using Herald.Processor.Fanout;
using Herald.Processor.Scheduling;
using Herald.Processor.Telemetry;
using Herald.ServiceDefaults.Kafka;
using Herald.ServiceDefaults.Postgres;

var builder = WebApplication.CreateBuilder(args);

builder.AddServiceDefaults();
builder.AddHeraldDatabase();
builder.AddRedisClient("redis");
builder.AddKafka(Topics.All.ToSpecifications());
builder.AddKafkaProducer();

builder.AddWebhookDelivery();
builder.Services.AddSingleton<DeliveryTelemetry>();
builder.Services.AddHostedService<BacklogSampler>();
// Messages → deliveries (fan-out), due deliveries → tasks (scheduler), tasks → attempts (delivery).
builder.Services.AddHostedService<MessageFanout>();
builder.Services.AddHostedService<DueDeliveries>();
builder.Services.AddHostedService<DeliveryConsumer>();

var app = builder.Build();

app.MapDefaultEndpoints();

await app.Services.MigrateDatabaseAsync();
app.Run();
