using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using PureLlama.Tensors;

namespace PureLlama.Quantization;

/// <summary>
/// Quantizes a weight [out, in] to NF4 as bitsandbytes' quantize_4bit does (QLoRA):
/// flatten row-major, cut into blocks of <c>blockSize</c>, absmax per block, x = w / absmax clamped
/// to [−1, 1], code = number of NF4 thresholds t with x &gt; t (ties go to the lower code), two codes
/// per byte with the first element in the high nibble. A block of zeros has absmax 0 and codes 7 (the value 0).
/// Double quantization: offset = mean absmax; the centred absmaxes are quantized in blocks of 256 with
/// the signed dynamic map (nearest value, ties to the lower index) and one F32 scale per block.
/// Computed on the host in float32.
/// </summary>
public static class Nf4Quantizer
{
    /// <summary>Quantizes an F32/BF16/F16 weight [out, in] (any device) to NF4 on <paramref name="device"/> (default: the weight's device).</summary>
    public static Nf4Tensor Quantize(Tensor weight, Device? device = null, int blockSize = Nf4Codebook.BlockSize, bool doubleQuant = true)
    {
        QuantizerInput.Check(weight, "NF4");
        if (blockSize <= 0 || blockSize % 2 != 0)
            throw new ArgumentException($"NF4 block size must be a positive even number, got {blockSize}.", nameof(blockSize));
        var target = device ?? weight.Device;
        var (packed, absmax) = QuantizeWeight(weight, blockSize);

        var tensors = new List<Tensor>();
        try
        {
            Tensor Add(Tensor t) { tensors.Add(t); return t; }
            var packedT = Add(Tensor.FromArray(packed, new Shape(packed.Length), target));
            var mapT = Add(Tensor.FromArray(Nf4Codebook.CodesArray(), new Shape(16), target));
            if (!doubleQuant)
            {
                var absT = Add(Tensor.FromArray(absmax, new Shape(absmax.Length), target));
                return new Nf4Tensor(weight.Shape, blockSize, packedT, mapT, absT) { Name = weight.Name };
            }
            var (codes, nested, offset) = DoubleQuantize(absmax, Nf4Codebook.NestedBlockSize);
            var codesT = Add(Tensor.FromArray(codes, new Shape(codes.Length), target));
            var nestedT = Add(Tensor.FromArray(nested, new Shape(nested.Length), target));
            var dynT = Add(Tensor.FromArray(Nf4Codebook.DynamicMapArray(), new Shape(256), target));
            return new Nf4Tensor(weight.Shape, blockSize, packedT, mapT, codesT, nestedT, dynT, offset, Nf4Codebook.NestedBlockSize) { Name = weight.Name };
        }
        catch
        {
            foreach (var t in tensors) t.Dispose();
            throw;
        }
    }

    // The weight's blocks, read in row chunks (QuantizerRows) when no block crosses a row, else staged whole.
    private static unsafe (byte[] Packed, float[] Absmax) QuantizeWeight(Tensor weight, int blockSize)
    {
        int cols = weight.Shape[1];
        if (cols % blockSize != 0) return QuantizeBlocks(weight.ToFloatArray(), blockSize);
        long n = weight.Numel;
        var packed = new byte[(n + 1) / 2];
        var absmax = new float[n / blockSize];
        QuantizerRows.ForChunks(weight, (r0, rows, values) =>
            QuantizeBlocksInto(new ReadOnlySpan<float>((float*)values, rows * cols), blockSize, packed, absmax, (long)r0 * cols));
        return (packed, absmax);
    }

    /// <summary>Packs <paramref name="w"/> (flattened) into NF4 nibbles with one F32 absmax per block of <paramref name="blockSize"/>.</summary>
    public static (byte[] Packed, float[] Absmax) QuantizeBlocks(ReadOnlySpan<float> w, int blockSize)
    {
        long n = w.Length;
        var packed = new byte[(n + 1) / 2];
        var absmax = new float[(n + blockSize - 1) / blockSize];
        QuantizeBlocksInto(w, blockSize, packed, absmax, 0);
        return (packed, absmax);
    }

    /// <summary>
    /// As <see cref="QuantizeBlocks"/> for the part of a weight that starts at element <paramref name="first"/> (a multiple of
    /// <paramref name="blockSize"/>, even unless it is 0), into that weight's <paramref name="packed"/> and <paramref name="absmax"/>.
    /// </summary>
    internal static unsafe void QuantizeBlocksInto(ReadOnlySpan<float> w, int blockSize, byte[] packed, float[] absmax, long first)
    {
        long n = w.Length;
        long blocks = (n + blockSize - 1) / blockSize, firstBlock = first / blockSize;
        // Chunks of blocks on all cores (quantize-on-load of a 1B model). An even block size starts every chunk
        // on a whole byte, so chunks never share a packed byte; an odd one runs in one chunk.
        const int BlocksPerChunk = 1024;
        int chunks = blockSize % 2 == 0 ? (int)((blocks + BlocksPerChunk - 1) / BlocksPerChunk) : 1;
        long per = blockSize % 2 == 0 ? BlocksPerChunk : blocks;
        long firstBad = long.MaxValue;
        fixed (float* pw = w)
        {
            float* wp = pw;
            Parallel.For(0, chunks, new ParallelOptions { MaxDegreeOfParallelism = Kernels.Simd.SimdThreading.MaxThreads }, chunk =>
            {
                long b1 = Math.Min(blocks, (chunk + 1) * per);
                for (long b = chunk * per; b < b1; b++)
                {
                    long s = b * blockSize, e = Math.Min(n, s + blockSize);
                    float a = 0f;
                    for (long i = s; i < e; i++) a = MathF.Max(a, MathF.Abs(wp[i]));
                    if (float.IsNaN(a) || float.IsInfinity(a)) { InterlockedMin(ref firstBad, b); return; }
                    absmax[firstBlock + b] = a;
                    long i0 = s;
                    if (a != 0f && ((first + s) & 1) == 0) i0 = EncodeVectors(wp, s, e, a, packed, first);
                    for (long i = i0; i < e; i++)
                    {
                        int code = a == 0f ? 7 : Nf4Codebook.Encode(Math.Clamp(wp[i] / a, -1f, 1f));
                        long at = first + i;
                        packed[at >> 1] |= (byte)((at & 1) == 0 ? code << 4 : code);
                    }
                }
            });
        }
        if (firstBad != long.MaxValue)
        {
            long s = first + firstBad * blockSize;
            throw new ArgumentException($"Cannot quantize: the weight holds a non-finite value in elements [{s}, {Math.Min(first + n, s + blockSize)}).");
        }
    }

    /// <summary>
    /// Codes of w[s…] in 16-element vectors while they fit before e (s even, absmax a ≠ 0), the same arithmetic as the
    /// scalar loop: x = w / a (IEEE division), clamped to [−1, 1], code = number of thresholds below x. Writes whole
    /// packed bytes; returns where the scalar loop goes on.
    /// </summary>
    private static unsafe long EncodeVectors(float* w, long s, long e, float a, byte[] packed, long first)
    {
        if (!Avx512F.IsSupported) return s;
        var thresholds = Nf4Codebook.Thresholds;
        var va = Vector512.Create(a);
        var one = Vector512<float>.One;
        long i = s;
        fixed (byte* pp = packed)
            for (; i + 16 <= e; i += 16)
            {
                var x = Vector512.Min(Vector512.Max(Vector512.Load(w + i) / va, -one), one);
                var code = Vector512<int>.Zero;
                for (int t = 0; t < thresholds.Length; t++)
                    code -= Vector512.GreaterThan(x, Vector512.Create(thresholds[t])).AsInt32();
                // Lanes 2k (high nibble) and 2k+1 (low nibble) of one 64-bit pair → one byte.
                var pairs = code.AsInt64();
                var bytes = ((pairs & Vector512.Create(0xFL)) << 4) | Vector512.ShiftRightLogical(pairs, 32);
                *(ulong*)(pp + ((first + i) >> 1)) = Avx512F.ConvertToVector128Byte(bytes.AsUInt64()).AsUInt64().GetElement(0);
            }
        return i;
    }

    /// <summary>target = min(target, value), atomically.</summary>
    internal static void InterlockedMin(ref long target, long value)
    {
        long seen = Volatile.Read(ref target);
        while (value < seen)
        {
            long was = Interlocked.CompareExchange(ref target, value, seen);
            if (was == seen) return;
            seen = was;
        }
    }

    /// <summary>Double quantization of absmaxes: offset = mean; codes = nearest dynamic-map index of (a − offset)/scale per block of <paramref name="nestedBlockSize"/>.</summary>
    public static (byte[] Codes, float[] NestedAbsmax, float Offset) DoubleQuantize(ReadOnlySpan<float> absmax, int nestedBlockSize)
    {
        double sum = 0;
        foreach (float a in absmax) sum += a;
        float offset = absmax.Length == 0 ? 0f : (float)(sum / absmax.Length);
        var codes = new byte[absmax.Length];
        var nested = new float[(absmax.Length + nestedBlockSize - 1) / nestedBlockSize];
        for (int g = 0; g < nested.Length; g++)
        {
            int s = g * nestedBlockSize, e = Math.Min(absmax.Length, s + nestedBlockSize);
            float scale = 0f;
            for (int i = s; i < e; i++) scale = MathF.Max(scale, MathF.Abs(absmax[i] - offset));
            nested[g] = scale;
            for (int i = s; i < e; i++)
                codes[i] = (byte)Nf4Codebook.NearestDynamic(scale == 0f ? 0f : (absmax[i] - offset) / scale);
        }
        return (codes, nested, offset);
    }
}
