namespace Herald.Tests.Harness;

public static class Eventually
{
    /// <summary>Polls <paramref name="condition"/> until it holds or <paramref name="timeout"/> passes; says which.</summary>
    public static async Task<bool> HoldsAsync(Func<Task<bool>> condition, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        do
        {
            if (await condition()) return true;
            await Task.Delay(500);
        } while (DateTime.UtcNow < deadline);
        return false;
    }
}
