namespace Herald.Fuzzing.Harnesses;

/// <summary>Every harness, by name: what the command fuzzes and the tests replay.</summary>
public static class Catalog
{
    public static IReadOnlyList<IHarness> All { get; } =
    [
        new EndpointRulesHarness(),
        new AllowedNetworksHarness(),
        new ListQueryHarness(),
        new IdempotencyKeyHarness(),
        new RetryAfterHarness(),
        new RetryScheduleHarness(),
        new IdentifiersHarness(),
        new CreateMessageHarness(),
        new WorkRecordsHarness(),
        new ContentFilterHarness(),
    ];

    public static IHarness? Find(string name) => All.FirstOrDefault(harness => harness.Name == name);
}
