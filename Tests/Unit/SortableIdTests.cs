using Herald.Messages;

namespace Herald.Tests.Unit;

public sealed class SortableIdTests
{
    [Fact]
    public void Ids_carry_their_prefix_and_26_base32_characters()
    {
        var id = SortableId.New("msg");

        Assert.Matches("^msg_[0-9A-HJKMNP-TV-Z]{26}$", id);
    }

    [Fact]
    public void Ids_made_later_sort_later()
    {
        var start = DateTimeOffset.UtcNow;
        var ids = Enumerable.Range(0, 1000).Select(i => SortableId.New("msg", start.AddMilliseconds(i))).ToList();

        Assert.Equal(ids, ids.Order(StringComparer.Ordinal));
    }

    [Fact]
    public void The_creation_time_can_be_read_back_to_the_millisecond()
    {
        var time = new DateTimeOffset(2026, 11, 25, 12, 34, 56, 789, TimeSpan.Zero);

        Assert.Equal(time, SortableId.TimeOf(SortableId.New("msg", time)));
        Assert.Null(SortableId.TimeOf("msg_tooshort"));
    }

    [Fact]
    public void Ids_made_in_the_same_millisecond_differ()
    {
        var time = DateTimeOffset.UtcNow;
        var ids = Enumerable.Range(0, 10_000).Select(_ => SortableId.New("msg", time)).ToHashSet();

        Assert.Equal(10_000, ids.Count);
    }
}
