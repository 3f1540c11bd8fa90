using PureLlama.Kernels.Reference;
using PureLlama.Tensors;
using static PureLlama.Diagnostics.CheckIo;

namespace PureLlama.Diagnostics;

internal static partial class KernelChecks
{
    /// <summary>LoRA shapes (m, in, out, r): ragged sizes and the ranks 1, 8, 13, 16 (on the CPU, m below and above the GEMM switch at 64 rows).</summary>
    private static IEnumerable<(int M, int In, int Out, int R)> LoraCases(bool small) => small
        ? [(3, 17, 9, 1), (7, 33, 20, 8), (5, 19, 37, 13), (9, 40, 21, 16)]
        : [(1, 7, 33, 1), (33, 127, 65, 8), (70, 130, 45, 13), (127, 300, 260, 16)];

    private static KernelCheck Lora(int m, int inF, int outF, int r) => new("lora", $"m={m} in={inF} out={outF} r={r} fwd+bwd", be =>
    {
        var rng = new Rng((ulong)Seed("lora", m, inF, outF, r));
        var x = Random(rng, m * inF);
        var a = Random(rng, r * inF);
        var b = Random(rng, outF * r);
        var y0 = Random(rng, m * outF);
        var dy = Random(rng, m * outF);
        const float s = 0.75f;
        var (hRef, yRef) = ReferenceLora.Forward(x, a, b, s, y0, m, inF, outF, r);
        using var tx = Upload(be, x, m, inF);
        using var ta = Upload(be, a, r, inF);
        using var tb = Upload(be, b, outF, r);
        using var y = Upload(be, y0, m, outF);
        using var h = Poisoned(be, m, r);
        Timed(be, "fwd", OpWork.Compute(2.0 * m * r * (inF + outF)), () => be.LoraForward(tx, ta, tb, s, h, y));
        var hGot = h.ToArray<float>();
        var (gRef, dxRef, daRef, dbRef) = ReferenceLora.Backward(dy, x, a, b, hGot, s, m, inF, outF, r);
        using var tdy = Upload(be, dy, m, outF);
        using var g = Poisoned(be, m, r);
        using var dx = Poisoned(be, m, inF);
        using var dA = Poisoned(be, r, inF);
        using var dB = Poisoned(be, outF, r);
        Timed(be, "bwd", OpWork.Compute(4.0 * m * r * (inF + outF)), () => be.LoraBackward(tdy, tx, ta, tb, h, s, g, dx, dA, dB));
        string shape = $"m={m} in={inF} out={outF} r={r}";
        double tol = Math.Max(Math.Max(m, inF), outF) >= 100 ? LongTol : F32Tol;
        return Worst(Compare("lora h", shape, hGot, hRef, tol), Compare("lora y", shape, y, yRef, tol),
            Compare("lora g", shape, g, gRef, tol), Compare("lora dx", shape, dx, dxRef, tol),
            Compare("lora dA", shape, dA, daRef, tol), Compare("lora dB", shape, dB, dbRef, tol));
    });
}
