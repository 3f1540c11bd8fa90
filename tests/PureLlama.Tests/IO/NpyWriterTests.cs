using System.Buffers.Binary;
using System.Text;
using PureLlama.IO;

namespace PureLlama.Tests.IO;

public class NpyWriterTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    [Theory]
    [InlineData(new[] { 2, 3 }, "(2, 3)")]
    [InlineData(new[] { 5 }, "(5,)")]
    [InlineData(new int[0], "()")]
    public void Writes_version_1_little_endian_f4_in_c_order(int[] shape, string tuple)
    {
        var data = Enumerable.Range(0, (int)shape.Aggregate(1L, (a, b) => a * b)).Select(i => i * 1.5f - 2f).ToArray();
        string path = _dir.File("x.npy");
        NpyWriter.Write(path, data, shape);
        var bytes = File.ReadAllBytes(path);
        bytes[..8].Should().Equal(0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y', 1, 0);
        int headerLen = BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(8));
        ((10 + headerLen) % 64).Should().Be(0);
        string header = Encoding.ASCII.GetString(bytes, 10, headerLen);
        header.Should().EndWith("\n").And.Contain("'descr': '<f4'").And.Contain("'fortran_order': False").And.Contain($"'shape': {tuple}");
        var values = new float[data.Length];
        for (int i = 0; i < values.Length; i++) values[i] = BinaryPrimitives.ReadSingleLittleEndian(bytes.AsSpan(10 + headerLen + 4 * i));
        values.Should().Equal(data);
        bytes.Length.Should().Be(10 + headerLen + 4 * data.Length);
        File.Exists(path + ".tmp").Should().BeFalse();
    }

    [Fact]
    public void Shape_that_does_not_match_the_data_is_an_argument_error()
    {
        var act = () => NpyWriter.Write(_dir.File("y.npy"), new float[6], [4, 2]);
        act.Should().Throw<ArgumentException>().WithMessage("*(4, 2)*8*6*");
        var neg = () => NpyWriter.Write(_dir.File("y.npy"), new float[6], [-2, -3]);
        neg.Should().Throw<ArgumentException>().WithMessage("*negative*");
        File.Exists(_dir.File("y.npy")).Should().BeFalse();
    }
}
