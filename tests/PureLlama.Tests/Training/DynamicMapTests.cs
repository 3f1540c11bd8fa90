using System.Text.Json;
using PureLlama.Kernels;
using PureLlama.Tests.IO;
using Xunit.Abstractions;

namespace PureLlama.Tests.Training;

/// <summary>The 8-bit dynamic maps: the signed one against bitsandbytes' published table, the unsigned one by its properties.</summary>
public class DynamicMapTests(ITestOutputHelper output)
{
    [Fact]
    public void Fixture_signed_map_equals_the_bitsandbytes_table()
    {
        var path = Fixtures.Get("nf4/nf4_tables.json", output);
        if (path is null) return;
        using var doc = JsonDocument.Parse(File.ReadAllText(path));
        var table = doc.RootElement.GetProperty("dynamic_map_signed_8bit").EnumerateArray().Select(e => (float)e.GetDouble()).ToArray();
        table.Should().HaveCount(256);
        DynamicMap.Signed.Should().Equal(table, "the signed map is the published table");
        DynamicMap.SignedZero.Should().Be(127);
        // the generator (used for the unsigned map) reproduces the published signed table to within two ulps
        var generated = DynamicMap.Create(signed: true);
        int differing = 0;
        for (int i = 0; i < 256; i++)
        {
            if (generated[i] == table[i]) continue;
            differing++;
            Math.Abs(BitConverter.SingleToInt32Bits(generated[i]) - BitConverter.SingleToInt32Bits(table[i])).Should().BeLessThanOrEqualTo(2, $"entry {i}: {generated[i]:R} vs {table[i]:R}");
        }
        output.WriteLine($"create_dynamic_map(signed=True) regenerated: {256 - differing} entries exact, {differing} one or two ulps off");
    }

    [Fact]
    public void Unsigned_map_is_sorted_non_negative_and_spans_seven_decades()
    {
        var u = DynamicMap.Unsigned;
        u.Should().HaveCount(256);
        u[0].Should().Be(0f);
        u[255].Should().Be(1f);
        for (int i = 1; i < 256; i++) u[i].Should().BeGreaterThan(u[i - 1], "values are distinct and ascending");
        // exponent e = 0..6 contributes 2^(e+1) midpoints of linspace(0.1, 1, 2^(e+1)+1), scaled by 10^(e−6)
        u[1].Should().BeApproximately(1e-6f * 0.325f, 1e-12f);          // e = 0: midpoints 0.325, 0.775 (×1e-6)
        u[2].Should().BeApproximately(1e-6f * 0.775f, 1e-12f);
        u.Count(x => x >= 0.1f && x < 1f).Should().Be(128);             // e = 6: 128 codes in the top decade
        u[254].Should().BeApproximately(1f - 0.9f / 256, 1e-6f);        // largest midpoint below 1
        var signedPositive = DynamicMap.Signed.Where(x => x > 0).ToArray();
        signedPositive.Should().HaveCount(128, "the signed map spends one bit on the sign: 127 magnitudes + 1.0");
    }

    [Fact]
    public void Nearest_code_picks_the_closest_value_and_the_lower_code_on_a_tie()
    {
        var map = DynamicMap.Unsigned;
        var t = DynamicMap.UnsignedThresholds;
        for (int k = 0; k < 255; k++)
        {
            DynamicMap.Nearest(t, map[k]).Should().Be((byte)k);
            DynamicMap.Nearest(t, t[k]).Should().Be((byte)k, "a tie goes to the lower code");
            DynamicMap.Nearest(t, MathF.BitIncrement(t[k])).Should().Be((byte)(k + 1));
        }
        DynamicMap.Nearest(t, 1f).Should().Be(255);
        DynamicMap.Nearest(t, 2f).Should().Be(255);
        DynamicMap.Nearest(t, float.NaN).Should().Be(0);
        DynamicMap.Nearest(DynamicMap.SignedThresholds, -1f).Should().Be(0);
        DynamicMap.Nearest(DynamicMap.SignedThresholds, 0f).Should().Be(DynamicMap.SignedZero);
    }
}
