using System.Text.RegularExpressions;
using PureLlama.Tokenization;

namespace PureLlama.Tests.Tokenization;

/// <summary>The hand-written Llama 3 pre-tokenizer against the published pattern.</summary>
public sealed class PreTokenizerTests
{
    [Theory]
    [InlineData("Hello world!", new[] { "Hello", " world", "!" })]
    [InlineData("I'm sure they'LL", new[] { "I", "'m", " sure", " they", "'LL" })]
    [InlineData("12345 3.14", new[] { "123", "45", " ", "3", ".", "14" })]
    [InlineData("   leading and trailing   ", new[] { "  ", " leading", " and", " trailing", "   " })]
    [InlineData("\ttabs\t\t\t\tout here", new[] { "\ttabs", "\t\t\t", "\tout", " here" })]
    [InlineData("para one.\n\npara two.", new[] { "para", " one", ".\n\n", "para", " two", "." })]
    [InlineData("ax\n####\nboo", new[] { "ax", "\n", "####\n", "boo" })]
    [InlineData("a  \n  b", new[] { "a", "  \n", " ", " b" })]
    [InlineData("x => y", new[] { "x", " =>", " y" })]
    [InlineData("'sure", new[] { "'s", "ure" })]
    [InlineData("🦙Spanish", new[] { "🦙Spanish" })] // one code point, not one UTF-16 unit, may lead a letter run
    [InlineData("it'ſ", new[] { "it", "'ſ" })] // (?i) uses Unicode case folding: long s folds to s (Oniguruma, JavaScript /iu; not .NET)
    [InlineData(" 🦙x", new[] { " 🦙", "x" })]
    [InlineData("𝐀𝐁c 𝟏𝟐𝟑𝟒", new[] { "𝐀𝐁c", " ", "𝟏𝟐𝟑", "𝟒" })] // letters and digits outside the BMP
    public void Splits_like_the_published_pattern(string text, string[] expected)
    {
        Llama3PreTokenizer.Split(text).Should().Equal(expected);
    }

    [Fact]
    public void Agrees_with_the_regex_on_random_BMP_text()
    {
        // For text inside the BMP (and without U+017F, see above), .NET's regex has the same classes as the reference engines.
        var regex = new Regex(Llama3PreTokenizer.Pattern, RegexOptions.CultureInvariant);
        const string alphabet = "aZq09 \t\n\r\v'sSlLtTdDmMrRvVeE.,!?-_#<>|\"\u00a0\u00e9\u00df\u65e5\u0301\u0915\u093f\u00b2\u2028\u3000\u0660\u200b";
        var rng = new Random(1234);
        for (int trial = 0; trial < 3000; trial++)
        {
            var chars = new char[rng.Next(1, 24)];
            for (int i = 0; i < chars.Length; i++) chars[i] = alphabet[rng.Next(alphabet.Length)];
            string text = new(chars);
            var expected = regex.Matches(text).Select(m => m.Value).ToList();
            string.Concat(expected).Should().Be(text, "the pattern covers every character");
            Llama3PreTokenizer.Split(text).Should().Equal(expected, "text {0}", System.Text.Json.JsonSerializer.Serialize(text));
        }
    }
}
