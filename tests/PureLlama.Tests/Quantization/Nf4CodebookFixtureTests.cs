using System.Text.Json;
using PureLlama.Quantization;

namespace PureLlama.Tests.Quantization;

/// <summary>NF4 codes, thresholds and the dynamic map against bitsandbytes' published tables (shared/fixtures/nf4).</summary>
public sealed class Nf4CodebookFixtureTests
{
    private static JsonElement? LoadTables() =>
        JsonDocument.Parse(File.ReadAllText(IO.Fixtures.Get(Path.Combine("nf4", "nf4_tables.json")))).RootElement.Clone();

    private static float[] Floats(JsonElement root, string name) =>
        [.. root.GetProperty(name).EnumerateArray().Select(e => (float)e.GetDouble())];

    [Fact]
    public void Fixture_codes_thresholds_and_dynamic_map_match_bitsandbytes()
    {
        if (LoadTables() is not { } root) return; // (never: a missing fixture skips the test)
        Assert.Equal(Floats(root, "nf4_code"), Nf4Codebook.Codes.ToArray());
        Assert.Equal(Floats(root, "nf4_decision_thresholds"), Nf4Codebook.Thresholds.ToArray());
        Assert.Equal(Floats(root, "dynamic_map_signed_8bit"), Nf4Codebook.DynamicMap.ToArray());
    }

    [Fact]
    public void Fixture_tie_at_a_threshold_goes_to_the_lower_code()
    {
        if (LoadTables() is not { } root) return; // (never: a missing fixture skips the test)
        var t = Floats(root, "nf4_decision_thresholds");
        for (int i = 0; i < t.Length; i++)
        {
            Assert.Equal(i, Nf4Codebook.Encode(t[i]));                                   // x == t → lower code
            Assert.Equal(i + 1, Nf4Codebook.Encode(MathF.BitIncrement(t[i])));           // just above → upper
            Assert.Equal(i, Nf4Codebook.Encode(MathF.BitDecrement(t[i])));
        }
        Assert.Equal(0, Nf4Codebook.Encode(-1f));
        Assert.Equal(15, Nf4Codebook.Encode(1f));
        Assert.Equal(7, Nf4Codebook.Encode(0f));
    }

    [Fact]
    public void Dynamic_map_nearest_value_ties_go_to_the_lower_index()
    {
        var map = Nf4Codebook.DynamicMap;
        for (int i = 0; i + 1 < map.Length; i++)
        {
            Assert.Equal(i, Nf4Codebook.NearestDynamic(map[i]));
            float mid = (float)(((double)map[i] + map[i + 1]) / 2);
            int expected = (double)mid - map[i] <= (double)map[i + 1] - mid ? i : i + 1;
            Assert.Equal(expected, Nf4Codebook.NearestDynamic(mid));
        }
        Assert.Equal(0, Nf4Codebook.NearestDynamic(-2f));
        Assert.Equal(255, Nf4Codebook.NearestDynamic(2f));
        Assert.Equal(127, Nf4Codebook.NearestDynamic(0f));
        Assert.Equal(0f, map[127]);
    }
}
