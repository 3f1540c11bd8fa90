using PureLlama.Tensors;

namespace PureLlama.Quantization;

/// <summary>
/// A weight [out, in] quantized group-wise on the host, unpacked: the output of <see cref="Rtn"/>,
/// <see cref="Gptq"/> and <see cref="Awq"/> before packing. ŵ[o, i] = Scales[g, o]·(Codes[o, i] − Zeros[g, o])
/// with g = GIdx[i]. Scales hold F16-representable values (what the packed tensor stores), so
/// <see cref="Dequantize"/> equals the packed tensor's dequantization exactly.
/// </summary>
public sealed class GroupQuantized
{
    /// <summary>Wraps the unpacked arrays after checking their lengths.</summary>
    public GroupQuantized(int rows, int columns, int bits, int groupSize, int groups, bool symmetric,
        byte[] codes, float[] scales, byte[] zeros, int[] gIdx)
    {
        if (bits is < 2 or > 8) throw new ArgumentOutOfRangeException(nameof(bits), bits, "Bits must be 2…8.");
        if (codes.Length != (long)rows * columns) throw new ArgumentException($"codes has {codes.Length} elements, expected [{rows}, {columns}].", nameof(codes));
        if (scales.Length != (long)groups * rows) throw new ArgumentException($"scales has {scales.Length} elements, expected [{groups}, {rows}].", nameof(scales));
        if (zeros.Length != scales.Length) throw new ArgumentException($"zeros has {zeros.Length} elements, expected [{groups}, {rows}].", nameof(zeros));
        if (gIdx.Length != columns) throw new ArgumentException($"g_idx has {gIdx.Length} elements, expected {columns}.", nameof(gIdx));
        foreach (int g in gIdx)
            if ((uint)g >= (uint)groups) throw new ArgumentException($"g_idx holds {g}, outside [0, {groups}).", nameof(gIdx));
        Rows = rows; Columns = columns; Bits = bits; GroupSize = groupSize; Groups = groups; Symmetric = symmetric;
        Codes = codes; Scales = scales; Zeros = zeros; GIdx = gIdx;
    }

    /// <summary>Output features.</summary>
    public int Rows { get; }
    /// <summary>Input features.</summary>
    public int Columns { get; }
    /// <summary>Bits per code.</summary>
    public int Bits { get; }
    /// <summary>Input columns per group (−1: one group).</summary>
    public int GroupSize { get; }
    /// <summary>Number of groups.</summary>
    public int Groups { get; }
    /// <summary>True when every zero point is 2^(bits−1).</summary>
    public bool Symmetric { get; }
    /// <summary>[out, in] codes in [0, 2^bits).</summary>
    public byte[] Codes { get; }
    /// <summary>[groups, out] scales (F16 values).</summary>
    public float[] Scales { get; }
    /// <summary>[groups, out] zero points.</summary>
    public byte[] Zeros { get; }
    /// <summary>[in] group of each input column.</summary>
    public int[] GIdx { get; }

    /// <summary>True when the groups are consecutive runs (g_idx[i] = i / groupSize), i.e. no act-order.</summary>
    public bool IsSequential
    {
        get
        {
            int gs = GroupSize < 0 ? Columns : GroupSize;
            for (int i = 0; i < Columns; i++) if (GIdx[i] != i / gs) return false;
            return true;
        }
    }

    /// <summary>Ŵ as F32 [out, in].</summary>
    public float[] Dequantize()
    {
        var w = new float[(long)Rows * Columns];
        Parallel.For(0, Rows, o =>
        {
            long row = (long)o * Columns;
            for (int i = 0; i < Columns; i++)
            {
                long gi = (long)GIdx[i] * Rows + o;
                w[row + i] = Scales[gi] * (Codes[row + i] - Zeros[gi]);
            }
        });
        return w;
    }

    /// <summary>Packs into an <see cref="Int4GroupTensor"/> on <paramref name="device"/> (4-bit only).</summary>
    public Int4GroupTensor ToTensor(Device? device = null)
    {
        if (Bits != 4) throw new NotSupportedException($"Only 4-bit codes pack into Int4GroupTensor, these are {Bits}-bit.");
        var qweight = Int4Packing.PackWeight(Codes, Rows, Columns);
        var qzeros = Int4Packing.PackZeros(Zeros, Groups, Rows);
        var scales = Array.ConvertAll(Scales, s => BitConverter.HalfToUInt16Bits((Half)s));
        return new Int4GroupTensor(new Shape(Rows, Columns), GroupSize, Groups, Symmetric,
            Tensor.FromArray(qweight, new Shape(Columns / 8, Rows), device),
            Tensor.FromArray(qzeros, new Shape(Groups, Rows / 8), device),
            Tensor.FromSpan<ushort>(scales, new Shape(Groups, Rows), DType.F16, device),
            Tensor.FromArray(GIdx, new Shape(Columns), device));
    }

    /// <summary>Unpacks a tensor (any device) back to host arrays.</summary>
    public static GroupQuantized FromTensor(Int4GroupTensor w)
    {
        ArgumentNullException.ThrowIfNull(w);
        int rows = w.Rows, cols = w.Columns;
        var codes = Int4Packing.UnpackWeight(w.QWeight.ToArray<int>(), rows, cols);
        var zeros = Int4Packing.UnpackZeros(w.QZeros.ToArray<int>(), w.Groups, rows);
        var scales = Array.ConvertAll(w.Scales.ToArray<ushort>(), b => (float)BitConverter.UInt16BitsToHalf(b));
        return new GroupQuantized(rows, cols, 4, w.GroupSize, w.Groups, w.Symmetric, codes, scales, zeros, w.GIdx.ToArray<int>());
    }
}
