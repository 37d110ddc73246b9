using Herald.Secrets;

namespace Herald.Tests.Unit;

public sealed class SecretSealerTests
{
    private const string Current = "current-key-0123456789abcdefghijklmnopqrstuvwxyz";
    private const string Previous = "previous-key-0123456789abcdefghijklmnopqrstuvwxyz";

    [Fact]
    public void A_sealed_value_unseals_to_itself_and_does_not_show_it()
    {
        var sealer = new SecretSealer([Current]);
        const string secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

        var sealedValue = sealer.Seal(secret, SealedField.Secret("ep_1"));

        Assert.StartsWith(sealer.ActivePrefix, sealedValue, StringComparison.Ordinal);
        Assert.DoesNotContain("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", sealedValue, StringComparison.Ordinal);
        Assert.Equal(secret, sealer.Unseal(sealedValue, SealedField.Secret("ep_1")));
        // A fresh nonce each time: equal secrets do not give equal rows.
        Assert.NotEqual(sealedValue, sealer.Seal(secret, SealedField.Secret("ep_1")));
    }

    [Fact]
    public void A_value_copied_to_another_endpoint_or_header_does_not_unseal_there()
    {
        var sealer = new SecretSealer([Current]);
        var secret = sealer.Seal("whsec_abc", SealedField.Secret("ep_1"));
        var header = sealer.Seal("Bearer token", SealedField.Header("ep_1", "Authorization"));

        Assert.Throws<SealedValueException>(() => sealer.Unseal(secret, SealedField.Secret("ep_2")));
        Assert.Throws<SealedValueException>(() => sealer.Unseal(header, SealedField.Header("ep_1", "X-Other")));
        Assert.Throws<SealedValueException>(() => sealer.Unseal(header, SealedField.Secret("ep_1")));
        // Header names are case-insensitive, and so is the binding.
        Assert.Equal("Bearer token", sealer.Unseal(header, SealedField.Header("ep_1", "authorization")));
    }

    [Fact]
    public void An_altered_value_is_refused()
    {
        var sealer = new SecretSealer([Current]);
        var sealedValue = sealer.Seal("whsec_abc", SealedField.Secret("ep_1"));
        var flipped = sealedValue[..^2] + (sealedValue[^2] == 'A' ? 'B' : 'A') + sealedValue[^1];

        Assert.Throws<SealedValueException>(() => sealer.Unseal(flipped, SealedField.Secret("ep_1")));
        Assert.Throws<SealedValueException>(() => sealer.Unseal(sealer.ActivePrefix + "!!", SealedField.Secret("ep_1")));
        Assert.Throws<SealedValueException>(() => sealer.Unseal(sealer.ActivePrefix + "AAAA", SealedField.Secret("ep_1")));
    }

    [Fact]
    public void After_rotation_values_sealed_under_the_previous_key_still_unseal_and_new_ones_use_the_new_key()
    {
        var before = new SecretSealer([Previous]);
        var after = new SecretSealer([Current, Previous]);
        var old = before.Seal("whsec_old", SealedField.Secret("ep_1"));

        Assert.NotEqual(before.ActiveKeyId, after.ActiveKeyId);
        Assert.Equal("whsec_old", after.Unseal(old, SealedField.Secret("ep_1")));
        Assert.StartsWith(after.ActivePrefix, after.Seal("whsec_new", SealedField.Secret("ep_1")), StringComparison.Ordinal);
        // Once the previous key is gone, what it sealed is refused with a message naming the missing key.
        var error = Assert.Throws<SealedValueException>(() => new SecretSealer([Current]).Unseal(old, SealedField.Secret("ep_1")));
        Assert.Contains(before.ActiveKeyId, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_value_stored_before_sealing_reads_as_it_is()
    {
        var sealer = new SecretSealer([Current]);

        Assert.Equal("whsec_legacy", sealer.Unseal("whsec_legacy", SealedField.Secret("ep_1")));
        Assert.False(SecretSealer.IsSealed("whsec_legacy"));
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("   ")]
    [InlineData("too-short")]
    [InlineData("current-key-0123456789abcdefghijklmnopqrstuvwxyz short")]
    public void A_missing_or_weak_key_setting_stops_the_service_with_a_clear_message(string? setting)
    {
        var error = Assert.Throws<InvalidOperationException>(() => SealingKeys.FromSetting(setting));
        Assert.Contains(SealingKeys.Setting, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_setting_lists_the_sealing_key_first_and_older_keys_after_it()
    {
        var sealer = new SecretSealer(SealingKeys.FromSetting($" {Current}\n{Previous} "));

        Assert.Equal(new SecretSealer([Current]).ActiveKeyId, sealer.ActiveKeyId);
        Assert.Equal("x", sealer.Unseal(new SecretSealer([Previous]).Seal("x", SealedField.Secret("ep")), SealedField.Secret("ep")));
    }
}

public sealed class RecordAuthenticatorTests
{
    private static readonly SealingKeys Old = new(["old-record-key-0123456789abcdefghijklmnopqrstuvwxyz"]);
    private static readonly SealingKeys New = new(["new-record-key-0123456789abcdefghijklmnopqrstuvwxyz", "old-record-key-0123456789abcdefghijklmnopqrstuvwxyz"]);

    [Fact]
    public void A_stamped_record_is_authentic_and_any_change_to_topic_key_or_value_is_not()
    {
        var records = new RecordAuthenticator(New);
        var value = "{\"payload\":1}"u8.ToArray();
        var headers = new Confluent.Kafka.Headers();
        records.Stamp(headers, "herald.deliveries", "ep_1", value);

        Assert.True(records.IsAuthentic(headers, "herald.deliveries", "ep_1", value));
        Assert.False(records.IsAuthentic(headers, "herald.messages", "ep_1", value));
        Assert.False(records.IsAuthentic(headers, "herald.deliveries", "ep_2", value));
        Assert.False(records.IsAuthentic(headers, "herald.deliveries", "ep_1", "{\"payload\":2}"u8.ToArray()));
        Assert.False(records.IsAuthentic(new Confluent.Kafka.Headers(), "herald.deliveries", "ep_1", value));
        Assert.False(records.IsAuthentic(null, "herald.deliveries", "ep_1", value));
        var truncated = new Confluent.Kafka.Headers { { RecordAuthenticator.Header, headers.GetLastBytes(RecordAuthenticator.Header)[..10] } };
        Assert.False(records.IsAuthentic(truncated, "herald.deliveries", "ep_1", value));
    }

    [Fact]
    public void Records_stamped_before_a_rotation_stay_authentic_while_the_old_key_is_configured()
    {
        var value = "{}"u8.ToArray();
        var headers = new Confluent.Kafka.Headers();
        new RecordAuthenticator(Old).Stamp(headers, "t", "k", value);

        Assert.True(new RecordAuthenticator(New).IsAuthentic(headers, "t", "k", value));
        Assert.False(new RecordAuthenticator(new SealingKeys(["new-record-key-0123456789abcdefghijklmnopqrstuvwxyz"])).IsAuthentic(headers, "t", "k", value));
    }
}
