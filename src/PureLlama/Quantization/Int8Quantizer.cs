using PureLlama.Tensors;

namespace PureLlama.Quantization;

/// <summary>
/// Symmetric row-wise INT8 (bitsandbytes' LLM.int8 weight storage): SCB[r] = max_c |w[r, c]|,
/// q[r, c] = round(127·w[r, c] / SCB[r]) with round-half-to-even (as torch.round), so q ∈ [−127, 127];
/// a row of zeros gets SCB = 0 and q = 0. Dequantized ŵ = q·SCB/127, so |w − ŵ| ≤ SCB/254.
/// </summary>
public static unsafe class Int8Quantizer
{
    /// <summary>Quantizes an F32/BF16/F16 weight [out, in] (any device) to INT8 on <paramref name="device"/> (default: the weight's device).</summary>
    public static Int8Tensor Quantize(Tensor weight, Device? device = null)
    {
        QuantizerInput.Check(weight, "INT8");
        var target = device ?? weight.Device;
        int rows = weight.Shape[0], cols = weight.Shape[1];
        var q = new sbyte[(long)rows * cols];
        var scb = new float[rows];
        long firstBad = long.MaxValue;
        QuantizerRows.ForChunks(weight, (r0, n, values) => Parallel.For(0, n, new ParallelOptions { MaxDegreeOfParallelism = Kernels.Simd.SimdThreading.MaxThreads }, i =>
        {
            int r = r0 + i;
            var row = new ReadOnlySpan<float>((float*)values + (long)i * cols, cols);
            float a = 0f;
            foreach (float v in row) a = MathF.Max(a, MathF.Abs(v));
            if (float.IsNaN(a) || float.IsInfinity(a)) { Nf4Quantizer.InterlockedMin(ref firstBad, r); return; }
            scb[r] = a;
            if (a == 0f) return;
            float s = 127f / a;
            for (int c = 0; c < cols; c++) q[(long)r * cols + c] = (sbyte)Math.Clamp(MathF.Round(row[c] * s, MidpointRounding.ToEven), -127f, 127f);
        }));
        if (firstBad != long.MaxValue)
            throw new ArgumentException($"Cannot quantize {weight.Describe()}: row {firstBad} holds a non-finite value.", nameof(weight));
        Tensor? values = null;
        try
        {
            values = Tensor.FromArray(q, new Shape(rows, cols), target);
            var scbT = Tensor.FromArray(scb, new Shape(rows), target);
            return new Int8Tensor(values, scbT) { Name = weight.Name };
        }
        catch
        {
            values?.Dispose();
            throw;
        }
    }
}

/// <summary>Argument checks shared by the quantizers.</summary>
internal static class QuantizerInput
{
    internal static void Check(Tensor weight, string format)
    {
        ArgumentNullException.ThrowIfNull(weight);
        if (weight.Rank != 2)
            throw new ArgumentException($"{format} quantization needs a weight [out, in] of rank 2, got {weight.Describe()}.", nameof(weight));
        if (weight.DType is not (DType.F32 or DType.BF16 or DType.F16))
            throw new ArgumentException($"{format} quantization needs an F32, BF16 or F16 weight, got {weight.Describe()}.", nameof(weight));
        if (weight.Shape[0] <= 0 || weight.Shape[1] <= 0)
            throw new ArgumentException($"{format} quantization needs a non-empty weight, got {weight.Describe()}.", nameof(weight));
    }
}
