// Dequant-matmul for many rows of x (prefill, training): Ŵ is dequantized one panel of rows at a
// time into an F32 tile (~1 MB, L2-sized) that feeds the dense GEMM (SimdGemm.F32: its packing and
// micro-kernels); the whole F32 weight never exists.
//
//   Forward     Y[m, rows] (=|+=) X[m, cols] · Ŵᵀ     panel Ŵ[r0:r1, :] → Y[:, r0:r1]
//   Transposed  Y[m, cols] (=|+=) X[m, rows] · Ŵ      panel Ŵ[r0:r1, :] → Y += X[:, r0:r1] · panel
using System.Runtime.InteropServices;

namespace PureLlama.Kernels.Simd;

/// <summary>Panel-dequantizing GEMM over NF4, INT8 and ggml block-format weights.</summary>
public static unsafe class SimdQuantGemm
{
    /// <summary>Target floats per dequantized panel (1 MB).</summary>
    internal const int PanelFloats = 256 * 1024;

    /// <summary>Y[m, rows] = X[m, cols] · Ŵᵀ (NF4); ldx ≥ cols, ldy ≥ rows.</summary>
    public static void Nf4(in Nf4Matrix w, int m, float* x, int ldx, float* y, int ldy, bool accumulate, bool transposeWeight)
    {
        var wc = w;
        Run(w.Rows, w.Cols, (r0, r1, dst) => ParallelWork.Rows(r1 - r0, wc.Cols,
            (a, b) => SimdQuantDequant.Nf4Rows(wc, r0 + a, r0 + b, (float*)dst + (long)a * wc.Cols)),
            m, x, ldx, y, ldy, accumulate, transposeWeight);
    }

    /// <summary>Y[m, rows] = X[m, cols] · Ŵᵀ (INT8), or the transposed product.</summary>
    public static void Int8(in Int8Matrix w, int m, float* x, int ldx, float* y, int ldy, bool accumulate, bool transposeWeight)
    {
        var wc = w;
        Run(w.Rows, w.Cols, (r0, r1, dst) => ParallelWork.Rows(r1 - r0, wc.Cols,
            (a, b) => SimdQuantDequant.Int8Rows(wc, r0 + a, r0 + b, (float*)dst + (long)a * wc.Cols)),
            m, x, ldx, y, ldy, accumulate, transposeWeight);
    }

    /// <summary>Y[m, rows] = X[m, cols] · Ŵᵀ (a ggml block format), or the transposed product.</summary>
    public static void Blocks<T>(in PureLlama.Kernels.Blocks.BlockMatrix w, int m, float* x, int ldx, float* y, int ldy, bool accumulate, bool transposeWeight)
        where T : struct, PureLlama.Kernels.Blocks.IBlockFormat
    {
        var wc = w;
        Run(w.Rows, w.Cols, (r0, r1, dst) => ParallelWork.Rows(r1 - r0, wc.Cols,
            (a, b) => PureLlama.Kernels.Blocks.BlockKernels<T>.DequantizeRows(wc, r0 + a, r0 + b, (float*)dst + (long)a * wc.Cols)),
            m, x, ldx, y, ldy, accumulate, transposeWeight);
    }

    // transposeWeight = false: Y[m, rows] = X[m, cols]·Ŵᵀ; true: Y[m, cols] = X[m, rows]·Ŵ.
    private static void Run(int rows, int cols, Action<int, int, nint> dequantizePanel,
        int m, float* x, int ldx, float* y, int ldy, bool accumulate, bool transposeWeight)
    {
        if (m <= 0) return;
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(y);
        int panel = Math.Min(rows, Math.Max(16, PanelFloats / cols / 16 * 16));
        var tile = (float*)NativeMemory.AlignedAlloc((nuint)((long)panel * cols * sizeof(float)), 64);   // [panel, cols]
        try
        {
            for (int r0 = 0; r0 < rows; r0 += panel)
            {
                int nr = Math.Min(panel, rows - r0);
                dequantizePanel(r0, r0 + nr, (nint)tile);
                if (!transposeWeight)
                    SimdGemm.F32(m, nr, cols, x, ldx, false, tile, cols, true, y + r0, ldy, accumulate);
                else
                    SimdGemm.F32(m, cols, nr, x + r0, ldx, false, tile, cols, false, y, ldy, accumulate || r0 > 0);
            }
        }
        finally
        {
            NativeMemory.AlignedFree(tile);
        }
    }
}
