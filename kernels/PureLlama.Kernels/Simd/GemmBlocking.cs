// Block sizes and micro-kernel choice for the blocked GEMM, per instruction-set level.
//
//   KC: k depth of one packed block. A B micro-panel (KC × NR × 4 bytes) should sit in L1
//       (48 KB on Zen 5): 256 × 32 × 4 = 32 KB.
//   MC: rows of the packed A block (MC × KC × 4 bytes) kept in L2 (1 MB per core): 192 × 256 × 4 = 192 KB.
//   NC: columns of the packed B block (KC × NC × 4 bytes) per thread, from L2/L3.
// k is cut into equal blocks (rounded to 16 for the transposing pack) rather than KC + remainder.
namespace PureLlama.Kernels.Simd;

internal readonly unsafe struct GemmBlocking
{
    public readonly GemmSimdLevel Level;
    public readonly int Mr, Nr, Kc, Mc, Nc;
    public readonly delegate*<int, float*, float*, float*, long, bool, void> Kernel;

    private GemmBlocking(GemmSimdLevel level, int mr, int nr, int kc, int mc, int nc,
        delegate*<int, float*, float*, float*, long, bool, void> kernel)
    {
        Level = level; Mr = mr; Nr = nr; Kc = kc; Mc = mc; Nc = nc; Kernel = kernel;
    }

    public static GemmBlocking For(GemmSimdLevel level, int m, int k)
    {
        var b = level switch
        {
            GemmSimdLevel.Vector512 => new GemmBlocking(level, 8, 32, 256, 192, 2048, &GemmMicroKernels.Tile512),
            GemmSimdLevel.Vector256 => new GemmBlocking(level, 6, 16, 256, 192, 2048, &GemmMicroKernels.Tile256),
            _ => new GemmBlocking(level, 4, 4, 256, 128, 1024, &GemmMicroKernels.TileScalar),
        };
        int kBlocks = (k + b.Kc - 1) / b.Kc;
        int kc = Math.Min(b.Kc, SimdGemm.RoundUp((k + kBlocks - 1) / kBlocks, 16));
        int mBlocks = (m + b.Mc - 1) / b.Mc;
        int mc = Math.Min(b.Mc, SimdGemm.RoundUp((m + mBlocks - 1) / mBlocks, b.Mr));
        return new GemmBlocking(level, b.Mr, b.Nr, kc, mc, b.Nc, b.Kernel);
    }
}
