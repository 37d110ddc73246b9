using System.Text;
using Herald.Processor.Delivery;

namespace Herald.Fuzzing.Harnesses;

/// <summary>
/// <c>Herald:Delivery:Schedule</c> (<c>"0s 5s 5m 30m 2h"</c>) through <see cref="RetrySchedule.Parse"/>. Its documented
/// refusal is a <see cref="FormatException"/> naming the part, which fails start-up with that message; an accepted
/// schedule makes a <see cref="RetrySchedule"/> whose delays are finite and not negative.
/// </summary>
public sealed class RetryScheduleHarness : IHarness
{
    public string Name => "retry-schedule";

    public string Parses => "Herald:Delivery:Schedule retry delays";

    public void Run(ReadOnlySpan<byte> input)
    {
        IReadOnlyList<TimeSpan> delays;
        try
        {
            delays = RetrySchedule.Parse(Encoding.UTF8.GetString(input));
        }
        catch (FormatException)
        {
            return;
        }
        InvariantBroken.Unless(delays.All(delay => delay >= TimeSpan.Zero), "accepted a negative delay");
        if (delays.Count > 0) _ = new RetrySchedule(delays, 0.1).Longest;
    }
}
