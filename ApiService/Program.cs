using Herald.ApiService.Messages;
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

builder.Services.AddProblemDetails();
builder.Services.AddOpenApi();
builder.Services.AddMessages();

var app = builder.Build();

app.UseExceptionHandler();
app.UseStatusCodePages();
if (app.Environment.IsDevelopment())
{
    app.MapOpenApi();
}

app.MapDefaultEndpoints();
app.MapMessages();

await app.Services.MigrateDatabaseAsync();
app.Run();
