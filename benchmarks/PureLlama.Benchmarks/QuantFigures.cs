using System.Diagnostics;
using PureLlama.Quantization;
using PureLlama.Tensors;
using PureLlama.Tests.Quantization;

namespace PureLlama.Benchmarks;

/// <summary>
/// The figures of docs/quantization.md (timings, so they live here and not among the tests):
/// <c>dotnet run -c Release --project benchmarks/PureLlama.Benchmarks -- quant-figures [--big]</c> prints the
/// held-out error of RTN/GPTQ/AWQ on a [2048, 2048] synthetic layer, the GPTQ time of a [8192, 2048] layer
/// (and [2048, 8192] with --big), and the decode GEMV of an INT4 group-128 weight against F32.
/// </summary>
internal static class QuantFigures
{
    public static void Run(bool big)
    {
        HeldOutErrors();
        GptqTiming(big ? [(8192, 2048), (2048, 8192)] : [(8192, 2048)]);
        GemvTiming();
    }

    /// <summary>GPTQ held-out error, group fit at block start (the reference's) vs on the updated weights, groups 32/64/128.</summary>
    public static void GroupFitErrors()
    {
        foreach (var (rows, cols, seed) in new[] { (512, 1024, 1UL), (512, 1024, 2UL), (1024, 2048, 3UL) })
        {
            var layer = new SyntheticLayer(rows, cols, calibrationRows: 2048, heldOutRows: 1024, seed: seed);
            var hessian = new GptqHessian(cols);
            hessian.Add(layer.Calibration.Data, layer.Calibration.Rows);
            foreach (bool actOrder in new[] { false, true })
                foreach (int group in new[] { 32, 64, 128 })
                {
                    var options = new GptqOptions(new GroupQuantOptions(4, group, false), ActOrder: actOrder);
                    double blockStart = layer.RelativeOutputError(Gptq.Quantize(layer.Weight.Data, rows, cols, hessian, options).Dequantize());
                    double updated = layer.RelativeOutputError(Gptq.Quantize(layer.Weight.Data, rows, cols, hessian, options with { GroupFit = GptqGroupFit.Updated }).Dequantize());
                    Console.WriteLine($"[{rows}, {cols}] seed {seed} group {group,3} act-order {(actOrder ? "yes" : "no ")}: block-start fit {blockStart:E3}, updated fit {updated:E3} ({(updated / blockStart - 1) * 100:+0.0;-0.0} %)");
                }
        }
    }

    private static void HeldOutErrors()
    {
        var sw = Stopwatch.StartNew();
        var layer = new SyntheticLayer(2048, 2048, calibrationRows: 2048, heldOutRows: 1024, seed: 2048);
        Console.WriteLine($"setup {sw.Elapsed.TotalSeconds:F1} s");
        sw.Restart();
        var (rtn, gptq, gptqAct, awq) = layer.CompareMethods();
        Console.WriteLine($"[2048, 2048] RTN {rtn:E3} GPTQ {gptq:E3} GPTQ act-order {gptqAct:E3} AWQ {awq:E3} ({sw.Elapsed.TotalSeconds:F1} s)");
    }

    // Wall and process CPU time of the Hessian of 4096 rows and of the quantization.
    private static void GptqTiming((int Rows, int Cols)[] shapes)
    {
        var process = Process.GetCurrentProcess();
        foreach (var (rows, cols) in shapes)
        {
            var w = new float[rows * cols];
            new Rng(1).FillNormal(w);
            var x = new float[4096 * cols];
            new Rng(2).FillNormal(x);
            var sw = Stopwatch.StartNew();
            var cpu0 = process.TotalProcessorTime;
            var h = new GptqHessian(cols);
            h.Add(x, 4096);
            double tH = sw.Elapsed.TotalSeconds, cH = (process.TotalProcessorTime - cpu0).TotalSeconds;
            sw.Restart();
            cpu0 = process.TotalProcessorTime;
            Gptq.Quantize(w, rows, cols, h);
            Console.WriteLine($"GPTQ [{rows}, {cols}]: Hessian of 4096 rows {tH:F1} s wall / {cH:F1} s CPU, quantize {sw.Elapsed.TotalSeconds:F1} s wall / {(process.TotalProcessorTime - cpu0).TotalSeconds:F1} s CPU ({Environment.ProcessorCount} cores)");
        }
    }

    // Decode GEMV (m = 1) of an INT4 group-128 weight against the F32 GEMV of the same shape.
    private static unsafe void GemvTiming()
    {
        foreach (var (rows, cols) in new[] { (2048, 8192), (8192, 2048) })
        {
            var rng = new Rng(4);
            var w = new float[rows * cols];
            rng.FillNormal(w);
            using var q = Rtn.Quantize(w, rows, cols).ToTensor();
            var x = new float[cols];
            rng.FillNormal(x);
            var y = new float[rows];
            var weights = new PureLlama.Kernels.Simd.Int4GroupWeights(q.QWeight.Pointer<int>(), q.QZeros.Pointer<int>(), q.Scales.Pointer<ushort>(), q.GIdx.Pointer<int>(), rows, cols, q.Groups);
            fixed (float* px = x, py = y, pw = w)
            {
                static double Time(Action a) { for (int i = 0; i < 5; i++) a(); var sw = Stopwatch.StartNew(); int n = 0; while (sw.ElapsedMilliseconds < 2000) { a(); n++; } return sw.Elapsed.TotalMilliseconds / n; }
                float* xp = px, yp = py, wp = pw;
                double tq = Time(() => PureLlama.Kernels.Simd.SimdInt4GroupMatmul.Forward(weights, 1, xp, yp, false));
                double tf = Time(() => PureLlama.Kernels.Simd.SimdGemv.F32(rows, cols, wp, cols, xp, yp, false));
                Console.WriteLine($"GEMV [{rows}, {cols}]: INT4 g128 {tq:F3} ms ({q.ByteLength / tq / 1e6:F1} GB/s of packed weights), F32 {tf:F3} ms ({4.0 * rows * cols / tf / 1e6:F1} GB/s), speed-up ×{tf / tq:F2}");
            }
        }
    }
}
