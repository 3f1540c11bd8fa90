// Matrix-vector products for decode: a weight W[n, k] (row-major, Hugging Face [out, in]) times
// one or a few activation rows.
//
//   y[i]    (=|+=) Σ_p W[i, p] · x[p]            (F32, Bf16)
//   Y[r, i] (=|+=) Σ_p W[i, p] · X[r, p]         (F32Rows, Bf16Rows: Y = X · Wᵀ, r < m)
//
// Memory-bound: every weight is read once. Threads split the n weight rows; each thread walks
// its rows one at a time against every x row (4 x rows at once), so a weight row is fetched from
// memory once and reused from L1 for all m rows. bf16 weights are widened in registers.
namespace PureLlama.Kernels.Simd;

/// <summary>Matrix-vector (and few-row matrix) products against a weight stored [n, k].</summary>
public static unsafe class SimdGemv
{
    /// <summary>y[n] = W[n,k] · x[k] (accumulate: y +=); ldw ≥ k is W's row stride.</summary>
    public static void F32(int n, int k, float* w, int ldw, float* x, float* y, bool accumulate)
    {
        if (Prologue(1, n, k, w != null, ldw, x, k, y, n, accumulate))
            GemvKernels.Run<float, GemvKernels.F32Weights>(1, n, k, w, ldw, x, k, y, n, accumulate);
    }

    /// <summary>y[n] = W[n,k] · x[k] with W as bf16 bits, widened in registers; f32 accumulation.</summary>
    public static void Bf16(int n, int k, ushort* w, int ldw, float* x, float* y, bool accumulate)
    {
        if (Prologue(1, n, k, w != null, ldw, x, k, y, n, accumulate))
            GemvKernels.Run<ushort, GemvKernels.Bf16Weights>(1, n, k, w, ldw, x, k, y, n, accumulate);
    }

    /// <summary>Y[m,n] = X[m,k] · Wᵀ (W stored [n,k]); streams W once for all m rows (meant for m ≤ 8 or so).</summary>
    public static void F32Rows(int m, int n, int k, float* w, int ldw, float* x, int ldx, float* y, int ldy, bool accumulate)
    {
        if (Prologue(m, n, k, w != null, ldw, x, ldx, y, ldy, accumulate))
            GemvKernels.Run<float, GemvKernels.F32Weights>(m, n, k, w, ldw, x, ldx, y, ldy, accumulate);
    }

    /// <summary>As <see cref="F32Rows"/> with W as bf16 bits.</summary>
    public static void Bf16Rows(int m, int n, int k, ushort* w, int ldw, float* x, int ldx, float* y, int ldy, bool accumulate)
    {
        if (Prologue(m, n, k, w != null, ldw, x, ldx, y, ldy, accumulate))
            GemvKernels.Run<ushort, GemvKernels.Bf16Weights>(m, n, k, w, ldw, x, ldx, y, ldy, accumulate);
    }

    private static bool Prologue(int m, int n, int k, bool hasW, int ldw, float* x, int ldx, float* y, int ldy, bool accumulate)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(m);
        ArgumentOutOfRangeException.ThrowIfNegative(n);
        ArgumentOutOfRangeException.ThrowIfNegative(k);
        if (ldw < Math.Max(1, k)) throw new ArgumentOutOfRangeException(nameof(ldw), ldw, $"ldw must be at least k = {k}.");
        if (ldx < Math.Max(1, k)) throw new ArgumentOutOfRangeException(nameof(ldx), ldx, $"ldx must be at least k = {k}.");
        if (ldy < Math.Max(1, n)) throw new ArgumentOutOfRangeException(nameof(ldy), ldy, $"ldy must be at least n = {n}.");
        if (m == 0 || n == 0) return false;
        if (y == null) throw new ArgumentNullException(nameof(y));
        if (k == 0)
        {
            if (!accumulate)
                for (int r = 0; r < m; r++) new Span<float>(y + (long)r * ldy, n).Clear();
            return false;
        }
        if (!hasW) throw new ArgumentNullException("w");
        if (x == null) throw new ArgumentNullException(nameof(x));
        return true;
    }
}
