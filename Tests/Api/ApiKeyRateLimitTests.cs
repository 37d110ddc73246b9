using System.Net;
using Herald.Tests.Harness;

namespace Herald.Tests.Api;

[Collection(HeraldAppCollection.Name)]
public sealed class ApiKeyRateLimitTests(HeraldAppFixture herald)
{
    [Fact]
    public async Task A_key_over_its_limit_gets_429_with_retry_after_while_other_keys_are_unaffected()
    {
        var app = await herald.Admin.CreateApplicationAsync();
        using var busy = herald.Client(await herald.Admin.CreateApplicationKeyAsync(app));
        using var calm = herald.Client(await herald.Admin.CreateApplicationKeyAsync(app));

        // Four times the per-second limit, as fast as the client can: at least one window overflows.
        var statuses = new List<HttpResponseMessage>();
        var firstWindow = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        await Parallel.ForEachAsync(Enumerable.Range(0, HeraldAppFixture.RateLimit * 4), new ParallelOptions { MaxDegreeOfParallelism = 32 },
            async (_, ct) =>
            {
                var response = await busy.Http.GetAsync($"/api/v1/apps/{app}", ct);
                lock (statuses) statuses.Add(response);
            });

        var windows = DateTimeOffset.UtcNow.ToUnixTimeSeconds() - firstWindow + 1;

        var limited = statuses.Where(r => r.StatusCode == HttpStatusCode.TooManyRequests).ToList();
        // The API leases the key's requests from Redis in blocks: never more than the limit in any window it touched.
        Assert.InRange(statuses.Count(r => r.StatusCode == HttpStatusCode.OK), 1, HeraldAppFixture.RateLimit * windows);
        Assert.NotEmpty(limited);
        Assert.All(statuses, r => Assert.Contains(r.StatusCode, new[] { HttpStatusCode.OK, HttpStatusCode.TooManyRequests }));
        Assert.All(limited, r => Assert.InRange(int.Parse(r.Headers.GetValues("Retry-After").Single()), 1, 1));
        Assert.Equal("application/problem+json", limited[0].Content.Headers.ContentType?.MediaType);
        Assert.Equal(HttpStatusCode.OK, (await calm.GetAsync($"/api/v1/apps/{app}")).Status);
    }
}
