using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;
using PureLlama.Cli.Charts;

namespace PureLlama.Tests.Training;

/// <summary>The PNG encoder and the line chart: a valid file (signature, chunk CRCs, IDAT inflating to the right size).</summary>
public class LossChartPngTests
{
    // Bit-at-a-time CRC-32, independent of the table-driven one under test.
    private static uint SlowCrc(ReadOnlySpan<byte> data)
    {
        uint crc = 0xFFFFFFFF;
        foreach (byte b in data)
        {
            crc ^= b;
            for (int k = 0; k < 8; k++) crc = (crc >> 1) ^ (0xEDB88320u & (uint)-(int)(crc & 1));
        }
        return ~crc;
    }

    [Fact]
    public void Crc32_matches_the_check_value()
    {
        Crc32.Compute("123456789"u8).Should().Be(0xCBF43926u);
        var rng = new Random(5);
        var data = new byte[1001];
        rng.NextBytes(data);
        Crc32.Compute(data).Should().Be(SlowCrc(data));
    }

    [Fact]
    public void Png_is_valid_and_round_trips_pixels()
    {
        const int w = 37, h = 23;
        var rgb = new byte[w * h * 3];
        new Random(1).NextBytes(rgb);
        var png = PngWriter.Encode(w, h, rgb);
        var (width, height, pixels) = Decode(png);
        width.Should().Be(w);
        height.Should().Be(h);
        pixels.Should().Equal(rgb);
    }

    [Fact]
    public void Loss_chart_renders_curves_axes_and_legend()
    {
        var train = Enumerable.Range(1, 50).Select(i => ((double)i, 3.0 * Math.Exp(-i / 15.0) + 0.1)).ToList();
        var eval = new List<(double, double)> { (10, 1.9), (20, 1.2), (30, 0.8), (40, 0.6), (50, 0.5) };
        var chart = LineChart.Render([new ChartSeries("train", new Rgb(31, 119, 180), train), new ChartSeries("eval", new Rgb(255, 127, 14), eval, Markers: true)]);
        int blue = 0, orange = 0, dark = 0;
        for (int y = 0; y < chart.Height; y++)
            for (int x = 0; x < chart.Width; x++)
            {
                var c = chart.Get(x, y);
                if (c == new Rgb(31, 119, 180)) blue++;
                else if (c == new Rgb(255, 127, 14)) orange++;
                else if (c == new Rgb(40, 40, 40)) dark++;
            }
        blue.Should().BeGreaterThan(500, "the train curve is drawn");
        orange.Should().BeGreaterThan(100, "the eval curve and markers are drawn");
        dark.Should().BeGreaterThan(1000, "axes and labels are drawn");

        var path = Path.Combine(Path.GetTempPath(), $"purellama-chart-{Guid.NewGuid():N}.png");
        try
        {
            LineChart.WritePng(path, [new ChartSeries("train", new Rgb(31, 119, 180), train)]);
            var (width, height, _) = Decode(File.ReadAllBytes(path));
            (width, height).Should().Be((720, 420));
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public void Nice_ticks_cover_the_range_in_round_steps()
    {
        LineChart.NiceTicks(0.13, 2.7, 6).Should().Equal(0, 0.5, 1, 1.5, 2, 2.5, 3);
        LineChart.NiceTicks(1, 300, 8).Should().Equal(0, 50, 100, 150, 200, 250, 300);
    }

    // Checks signature, chunk order and every CRC; returns the size and the unfiltered pixels (filter 0 only).
    private static (int Width, int Height, byte[] Pixels) Decode(byte[] png)
    {
        png.AsSpan(0, 8).ToArray().Should().Equal(PngWriter.Signature.ToArray());
        int pos = 8, width = 0, height = 0;
        var idat = new MemoryStream();
        var types = new List<string>();
        while (pos < png.Length)
        {
            int len = BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(pos));
            string type = Encoding.ASCII.GetString(png, pos + 4, 4);
            var body = png.AsSpan(pos + 8, len);
            uint crc = BinaryPrimitives.ReadUInt32BigEndian(png.AsSpan(pos + 8 + len));
            SlowCrc(png.AsSpan(pos + 4, 4 + len)).Should().Be(crc, $"chunk {type} has a correct CRC");
            types.Add(type);
            if (type == "IHDR")
            {
                width = BinaryPrimitives.ReadInt32BigEndian(body);
                height = BinaryPrimitives.ReadInt32BigEndian(body[4..]);
                body[8..].ToArray().Should().Equal((byte)8, (byte)2, (byte)0, (byte)0, (byte)0);
            }
            if (type == "IDAT") idat.Write(body);
            pos += 12 + len;
        }
        types.First().Should().Be("IHDR");
        types.Last().Should().Be("IEND");
        idat.Position = 0;
        using var z = new ZLibStream(idat, CompressionMode.Decompress);
        var raw = new MemoryStream();
        z.CopyTo(raw);
        var bytes = raw.ToArray();
        bytes.Length.Should().Be(height * (1 + width * 3), "one filter byte and width·3 bytes per row");
        var pixels = new byte[width * height * 3];
        for (int y = 0; y < height; y++)
        {
            bytes[y * (1 + width * 3)].Should().Be(0);
            Array.Copy(bytes, y * (1 + width * 3) + 1, pixels, y * width * 3, width * 3);
        }
        return (width, height, pixels);
    }
}
