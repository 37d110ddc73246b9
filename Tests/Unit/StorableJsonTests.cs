extern alias api;

using System.Text;
using api::Herald.ApiService.Problems;

namespace Herald.Tests.Unit;

/// <summary>What <see cref="StorableText.FindUnstorable"/> finds in a JSON body, and where it says it is.</summary>
public sealed class StorableJsonTests
{
    [Theory]
    [InlineData("""{"a":"plain","b":[1,{"c":"é ✓ 𝄞"}],"d":null}""")]
    [InlineData("""{"a":"\u00e9 \ud83d\ude00 \n \" \\ \/"}""")]
    [InlineData("""{"\ud83d\ude00":{"\u00e9":"\uD83D\uDE00"}}""")]
    [InlineData("""{"a":"\\ud800","b":"\\\\u0000"}""")] // escaped backslashes: the text \ud800, not a surrogate
    [InlineData("""[1,"two",{"three":3}]""")]
    public void Storable_text_passes(string json) =>
        Assert.Null(StorableText.FindUnstorable(Encoding.UTF8.GetBytes(json), allowNul: false));

    [Theory]
    [InlineData("""{"a":1,"b":{"c":["\ud800"]}}""", "b")]
    [InlineData("""{"a":1,"b":{"\udfff":true}}""", "b")]
    [InlineData("""{"b":"\ud83d"}""", "b")]
    [InlineData("""{"b":"\ude00\ud83d"}""", "b")]
    [InlineData("""{"b":"\ud83d\u0041"}""", "b")]
    [InlineData("""{"b":"x\u0000y"}""", "b")]
    [InlineData("""{"ok":"\u00e9","\ud800":1}""", "")]
    [InlineData("""["\ud800"]""", "")]
    [InlineData("\"\\udc00\"", "")]
    public void Unstorable_text_is_found_in_its_top_level_member(string json, string member) =>
        Assert.Equal(member, StorableText.FindUnstorable(Encoding.UTF8.GetBytes(json), allowNul: false));

    [Fact]
    public void A_nul_escape_passes_only_where_json_is_kept_verbatim()
    {
        var json = """{"payload":{"\u0000":"a\u0000b"}}"""u8;

        Assert.Null(StorableText.FindUnstorable(json, allowNul: true));
        Assert.Equal("payload", StorableText.FindUnstorable(json, allowNul: false));
        Assert.Equal("payload", StorableText.FindUnstorable("""{"payload":{"s":"\ud800"}}"""u8, allowNul: true));
    }

    [Theory]
    [InlineData("FF")]
    [InlineData("C328")]
    [InlineData("EDA080")]
    [InlineData("C0AF")]
    [InlineData("F4908080")]
    [InlineData("E282")]
    public void Invalid_utf8_is_found_in_values_and_names(string hex)
    {
        var bytes = Convert.FromHexString(hex);

        Assert.Equal("v", StorableText.FindUnstorable([.. """{"k":1,"v":["""u8, .. "\"x"u8, .. bytes, .. "\"]}"u8], allowNul: true));
        Assert.Equal("v", StorableText.FindUnstorable([.. """{"v":{"x"""u8, .. bytes, .. "\":1}}"u8], allowNul: true));
        Assert.Equal("v", StorableText.FindUnstorable([.. """{"v":"\n"""u8, .. bytes, .. "\"}"u8], allowNul: true));
    }

    [Fact]
    public void Strings_longer_than_the_stack_buffer_are_unescaped_too()
    {
        var padding = new string('x', 5000);

        Assert.Null(StorableText.FindUnstorable(Encoding.UTF8.GetBytes($$"""{"a":"{{padding}}\ud83d\ude00{{padding}}"}"""), allowNul: false));
        Assert.Equal("a", StorableText.FindUnstorable(Encoding.UTF8.GetBytes($$"""{"a":"{{padding}}\ud83d{{padding}}"}"""), allowNul: false));
        Assert.Equal("a", StorableText.FindUnstorable(Encoding.UTF8.GetBytes($$"""{"a":"{{padding}}\u0000"}"""), allowNul: false));
    }
}
