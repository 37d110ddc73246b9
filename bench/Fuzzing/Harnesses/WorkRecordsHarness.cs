using Herald.Deliveries;
using Herald.Messages;
using System.Text.Json;

namespace Herald.Fuzzing.Harnesses;

/// <summary>
/// The JSON values of Herald's own records: <see cref="MessagePublished"/> on herald.messages (the fan-out),
/// <see cref="DeliveryTask"/> on herald.deliveries (delivery) and <see cref="DeliveryOutcome"/> on Redis (the API's live
/// stream). Their consumers skip a record on <see cref="JsonException"/> and on nothing else; a record read is written
/// back the same.
/// </summary>
public sealed class WorkRecordsHarness : IHarness
{
    public string Name => "work-records";

    public string Parses => "Kafka record values (MessagePublished, DeliveryTask) and Redis delivery outcomes";

    public void Run(ReadOnlySpan<byte> input)
    {
        if (Read(input, MessagePublished.FromUtf8Bytes) is { } message)
            InvariantBroken.Unless(MessagePublished.FromUtf8Bytes(message.ToUtf8Bytes()) == message, "a MessagePublished does not round-trip");
        if (Read(input, DeliveryTask.FromUtf8Bytes) is { } task)
            InvariantBroken.Unless(DeliveryTask.FromUtf8Bytes(task.ToUtf8Bytes()) == task, "a DeliveryTask does not round-trip");
        if (Read(input, DeliveryOutcome.FromUtf8Bytes) is { } outcome)
            InvariantBroken.Unless(DeliveryOutcome.FromUtf8Bytes(outcome.ToUtf8Bytes()) == outcome, "a DeliveryOutcome does not round-trip");
    }

    private delegate T Parser<out T>(ReadOnlySpan<byte> utf8);

    private static T? Read<T>(ReadOnlySpan<byte> input, Parser<T> parse) where T : class
    {
        try
        {
            return parse(input);
        }
        catch (JsonException)
        {
            return null;
        }
    }
}
