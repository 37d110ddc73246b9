namespace Herald.Database;

public static class DatabaseTime
{
    /// <summary>Now, to the microsecond: PostgreSQL keeps microseconds, so a response built from this value equals
    /// what a later read returns.</summary>
    public static DateTimeOffset Now(TimeProvider time)
    {
        var now = time.GetUtcNow();
        return new DateTimeOffset(now.UtcTicks - now.UtcTicks % TimeSpan.TicksPerMicrosecond, TimeSpan.Zero);
    }
}
