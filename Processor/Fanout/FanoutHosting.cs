namespace Herald.Processor.Fanout;

public static class FanoutHosting
{
    /// <summary>Messages → deliveries: the <c>herald-fanout</c> consumer, and the sweep for records Kafka lost.</summary>
    public static void AddFanout(this IHostApplicationBuilder builder)
    {
        builder.Services.Configure<FanoutOptions>(builder.Configuration.GetSection(FanoutOptions.Section));
        builder.Services.AddSingleton<DeliveryFanout>();
        builder.Services.AddHostedService<MessageFanout>();
        builder.Services.AddHostedService<FanoutSweep>();
    }
}
