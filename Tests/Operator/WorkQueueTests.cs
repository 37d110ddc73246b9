using Herald.Operator.Control;

namespace Herald.Tests.Operator;

public sealed class WorkQueueTests
{
    private static readonly TimeSpan Soon = TimeSpan.FromSeconds(2);

    [Fact]
    public async Task A_key_added_twice_while_waiting_is_taken_once()
    {
        var queue = new WorkQueue<string>(TimeSpan.FromMilliseconds(10), TimeSpan.FromSeconds(1));
        queue.Add("a");
        queue.Add("a");
        queue.Add("b");
        Assert.Equal(2, queue.Depth);
        Assert.Equal("a", await queue.TakeAsync(CancellationToken.None).WaitAsync(Soon));
        Assert.Equal("b", await queue.TakeAsync(CancellationToken.None).WaitAsync(Soon));
        Assert.Equal(0, queue.Depth);
    }

    [Fact]
    public async Task A_key_added_while_processed_comes_back_once_it_is_done_never_twice_at_once()
    {
        var queue = new WorkQueue<string>(TimeSpan.FromMilliseconds(10), TimeSpan.FromSeconds(1));
        queue.Add("a");
        var taken = await queue.TakeAsync(CancellationToken.None);
        queue.Add("a");
        var again = queue.TakeAsync(CancellationToken.None);
        await Task.Delay(200);
        Assert.False(again.IsCompleted);
        queue.Done(taken);
        Assert.Equal("a", await again.WaitAsync(Soon));
    }

    [Fact]
    public void Back_off_doubles_per_failure_up_to_the_cap_and_forget_resets_it()
    {
        var queue = new WorkQueue<string>(TimeSpan.FromMilliseconds(100), TimeSpan.FromMilliseconds(500));
        var delays = Enumerable.Range(0, 5).Select(_ => queue.AddRateLimited("a").TotalMilliseconds).ToList();
        Assert.Equal([100, 200, 400, 500, 500], delays);
        queue.Forget("a");
        Assert.Equal(100, queue.AddRateLimited("a").TotalMilliseconds);
        Assert.Equal(0, queue.AddRateLimited("b").TotalMilliseconds - 100);
    }
}
