using Herald.Database;
using Herald.Kafka;
using Herald.Processor.Consuming;
using Herald.Processor.Delivery;
using Herald.ServiceDefaults.Kafka;
using Herald.ServiceDefaults.Postgres;

var builder = WebApplication.CreateBuilder(args);

builder.AddServiceDefaults();
builder.AddHeraldDatabase();
builder.AddRedisClient("redis");
builder.AddKafka(Topics.All.ToSpecifications());

builder.AddWebhookDelivery();
builder.Services.AddHostedService<MessageConsumer>();

var app = builder.Build();

app.MapDefaultEndpoints();

await app.Services.MigrateDatabaseAsync();
app.Run();
