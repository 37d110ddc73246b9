using StandardWebhooks;

namespace Herald.Tests.Unit;

public sealed class StandardWebhooksTests
{
    [Fact]
    public void Signing_matches_the_specifications_reference_vector()
    {
        var signature = new StandardWebhook("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
            .Sign("msg_p5jXN8AQM9LWM0D4loKWxJek", DateTimeOffset.FromUnixTimeSeconds(1614265330), """{"test": 2432232314}""");

        Assert.Equal("v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=", signature);
    }

    // Recorded so nobody is surprised: the .NET StandardWebhooks package (1.1.2) checks only the first signature in a
    // space-separated webhook-signature header, though the specification allows several. Herald therefore puts the
    // newest secret's signature first.
    [Fact]
    public void The_package_verifier_reads_only_the_first_of_several_signatures()
    {
        var first = "whsec_" + Convert.ToBase64String(new byte[32]);
        var second = "whsec_" + Convert.ToBase64String(Enumerable.Repeat((byte)1, 32).ToArray());
        var timestamp = DateTimeOffset.UtcNow;
        var headers = new Microsoft.AspNetCore.Http.HeaderDictionary
        {
            ["webhook-id"] = "msg_1",
            ["webhook-timestamp"] = timestamp.ToUnixTimeSeconds().ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["webhook-signature"] = $"{new StandardWebhook(first).Sign("msg_1", timestamp, "{}")} {new StandardWebhook(second).Sign("msg_1", timestamp, "{}")}",
        };

        new StandardWebhook(first).Verify("{}", headers);
        Assert.Throws<StandardWebhooks.Diagnostics.WebhookVerificationException>(() => new StandardWebhook(second).Verify("{}", headers));
    }
}
