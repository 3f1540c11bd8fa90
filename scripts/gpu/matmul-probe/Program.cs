// GPU matmul probe: correctness of GpuMatmul against a float64 reference on many shapes and
// layouts, then timings at 4096^3 and Llama-3-8B prefill shapes, on the first CUDA device
// (or the ILGPU CPU accelerator with "checkcpu"). Published self-contained by run-matmul.sh
// for GPU machines without .NET. Modes: ptx [dir] | checkcpu | check | bench [n] | all [n].
using System.Diagnostics;
using System.Reflection;
using System.Text.Json;
using ILGPU;
using ILGPU.Backends;
using ILGPU.Backends.EntryPoints;
using ILGPU.Backends.PTX;
using ILGPU.Runtime;
using ILGPU.Runtime.CPU;
using ILGPU.Runtime.Cuda;
using PureLlama.Kernels.Gpu;

static class Program
{
    static int Main(string[] args)
    {
        string mode = args.Length > 0 ? args[0] : "check";
        CudaDriverLoader.Register();
        if (mode == "ptx") return Ptx(args.Length > 1 ? args[1] : "/tmp/gpuprobe/ptx");
        using var context = Context.Create(b => b.CPU(new CPUDevice(32, 8, 2)).Cuda().Optimize(OptimizationLevel.O2));
        Accelerator acc;
        if (mode.EndsWith("cpu")) acc = context.CreateCPUAccelerator(0);
        else
        {
            var devs = context.GetCudaDevices();
            if (devs.Count == 0) { Console.WriteLine("NO CUDA DEVICE"); return 2; }
            acc = devs[0].CreateAccelerator(context);
        }
        using (acc)
        {
            Console.WriteLine($"accelerator: {acc.Name} {acc.AcceleratorType} warp={acc.WarpSize}");
            var sw = Stopwatch.StartNew();
            using var mm = new GpuMatmul(acc);
            Console.WriteLine($"kernels loaded in {sw.ElapsedMilliseconds} ms; tensor cores: {mm.UsesTensorCores}");
            int fails = 0;
            if (mode.StartsWith("check") || mode.StartsWith("all")) fails += Check(acc, mm, mode.EndsWith("cpu"));
            if (mode.StartsWith("bench") || mode.StartsWith("all")) Bench(acc, mm, args.Length > 1 ? int.Parse(args[1]) : 4096);
            Console.WriteLine(fails == 0 ? "ALL CHECKS PASSED" : $"{fails} CHECKS FAILED");
            return fails == 0 ? 0 : 1;
        }
    }

    static int Ptx(string dir)
    {
        Directory.CreateDirectory(dir);
        using var context = Context.Create(b => b.Optimize(OptimizationLevel.O2));
        var backend = new PTXBackend(context, new CudaCapabilityContext(CudaArchitecture.SM_90), CudaArchitecture.SM_90, new CudaInstructionSet(7, 8), null);
        var asm = typeof(GpuMatmul).Assembly;
        var tiled = asm.GetType("PureLlama.Kernels.Gpu.GpuTiledMatmul")!.GetMethod("Kernel")!;
        var f32w = asm.GetType("PureLlama.Kernels.Gpu.F32Widen")!;
        var bfw = asm.GetType("PureLlama.Kernels.Gpu.Bf16Widen")!;
        var kernels = new (string, MethodInfo)[]
        {
            ("tiled_f32", tiled.MakeGenericMethod(typeof(float), typeof(float), f32w, f32w)),
            ("tiled_f32bf16", tiled.MakeGenericMethod(typeof(float), typeof(ushort), f32w, bfw)),
            ("tiled_bf16", tiled.MakeGenericMethod(typeof(ushort), typeof(ushort), bfw, bfw)),
            ("tensorcore", asm.GetType("PureLlama.Kernels.Gpu.GpuTensorCoreMatmul")!.GetMethod("Kernel")!), 
            ("gemv", asm.GetType("PureLlama.Kernels.Gpu.GpuGemvBf16")!.GetMethod("Kernel")!),
        };
        foreach (var (name, m) in kernels)
        {
            var compiled = (PTXCompiledKernel)backend.Compile(EntryPointDescription.FromExplicitlyGroupedKernel(m), new KernelSpecialization());
            File.WriteAllText(Path.Combine(dir, name + ".ptx"), compiled.PTXAssembly);
            Console.WriteLine($"{name}: {compiled.PTXAssembly.Length} chars");
        }
        return 0;
    }

    // ---------------- correctness ----------------

    static ushort ToBf16(float v)
    {
        uint bits = BitConverter.SingleToUInt32Bits(v);
        return (ushort)((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16);
    }
    static float FromBf16(ushort b) => BitConverter.Int32BitsToSingle(b << 16);

    static int Check(Accelerator acc, GpuMatmul mm, bool small)
    {
        var shapes = small
            ? new[] { (1, 1, 1), (17, 9, 5), (130, 70, 37), (3, 140, 20) }
            : new[] { (1, 1, 1), (17, 9, 5), (130, 70, 37), (257, 129, 100), (300, 520, 257), (128, 128, 128), (256, 384, 512), (1, 1000, 777), (1, 4096, 4096), (5, 300, 64), (512, 768, 640), (257, 129, 104), (300, 520, 264) };
        int fails = 0;
        var rng = new Random(1234);
        foreach (var (m, n, k) in shapes)
            foreach (var kind in new[] { "f32", "f32bf16", "bf16" })
                for (int tr = 0; tr < 4; tr++)
                {
                    bool ta = (tr & 1) != 0, tb = (tr & 2) != 0;
                    foreach (bool accum in new[] { false, true })
                    {
                        if (accum && (m * n > 200_000)) continue;
                        int pad = (m + n + k) % 3; // ragged leading dims
                        double err = RunOne(acc, mm, rng, kind, m, n, k, ta, tb, accum, pad, out bool padOk);
                        double tol = kind == "f32" ? (k > 512 ? 1e-4 : 1e-5) : (kind == "bf16" && mm.UsesTensorCores && !ta && tb ? 1e-4 : 1e-5);
                        if (k > 512) tol = Math.Max(tol, 1e-4);
                        bool ok = err <= tol && padOk;
                        if (!ok) fails++;
                        Console.WriteLine($"{(ok ? "ok  " : "FAIL")} {kind,-8} m={m} n={n} k={k} tA={ta} tB={tb} acc={accum} pad={pad} relerr={err:E2} padOk={padOk}");
                    }
                }
        return fails;
    }

    static double RunOne(Accelerator acc, GpuMatmul mm, Random rng, string kind, int m, int n, int k, bool ta, bool tb, bool accum, int pad, out bool padOk)
    {
        int lda = (ta ? m : k) + pad, ldb = (tb ? k : n) + pad, ldc = n + pad;
        int aLen = (ta ? k : m) * lda, bLen = (tb ? n : k) * ldb, cLen = m * ldc;
        var aF = new float[aLen]; var bF = new float[bLen]; var c0 = new float[cLen];
        for (int i = 0; i < aLen; i++) aF[i] = (float)(rng.NextDouble() * 2 - 1);
        for (int i = 0; i < bLen; i++) bF[i] = (float)(rng.NextDouble() * 2 - 1);
        for (int i = 0; i < cLen; i++) c0[i] = float.NaN;
        if (accum) for (int r = 0; r < m; r++) for (int j = 0; j < n; j++) c0[r * ldc + j] = (float)(rng.NextDouble() * 2 - 1);
        bool aBf = kind == "bf16", bBf = kind != "f32";
        var aU = new ushort[aLen]; var bU = new ushort[bLen];
        if (aBf) for (int i = 0; i < aLen; i++) { aU[i] = ToBf16(aF[i]); aF[i] = FromBf16(aU[i]); }
        if (bBf) for (int i = 0; i < bLen; i++) { bU[i] = ToBf16(bF[i]); bF[i] = FromBf16(bU[i]); }

        using var dc = acc.Allocate1D(c0);
        using var daF = acc.Allocate1D(aF); using var dbF = acc.Allocate1D(bF);
        using var daU = acc.Allocate1D(aU); using var dbU = acc.Allocate1D(bU);
        var s = acc.DefaultStream;
        if (kind == "f32") mm.F32(s, m, n, k, daF.View, lda, ta, dbF.View, ldb, tb, dc.View, ldc, accum);
        else if (kind == "f32bf16") mm.F32Bf16(s, m, n, k, daF.View, lda, ta, dbU.View, ldb, tb, dc.View, ldc, accum);
        else mm.Bf16(s, m, n, k, daU.View, lda, ta, dbU.View, ldb, tb, dc.View, ldc, accum);
        s.Synchronize();
        var c = dc.GetAsArray1D();
        double num = 0, den = 0; padOk = true;
        for (int r = 0; r < m; r++)
        {
            for (int j = 0; j < n; j++)
            {
                double sum = accum ? c0[r * ldc + j] : 0;
                for (int q = 0; q < k; q++)
                    sum += (double)aF[ta ? q * lda + r : r * lda + q] * bF[tb ? j * ldb + q : q * ldb + j];
                double d = c[r * ldc + j] - sum;
                num += d * d; den += sum * sum;
            }
            for (int j = n; j < ldc; j++) if (!float.IsNaN(c[r * ldc + j])) padOk = false;
        }
        double e = Math.Sqrt(num / Math.Max(den, 1e-300));
        return double.IsNaN(e) ? double.PositiveInfinity : e;
    }

    // ---------------- timing ----------------

    static void Bench(Accelerator acc, GpuMatmul mm, int size)
    {
        int m = size, n = size, k = size;
        var rng = new Random(7);
        var aF = new float[m * k]; var bF = new float[n * k];
        for (int i = 0; i < aF.Length; i++) aF[i] = (float)(rng.NextDouble() * 2 - 1);
        for (int i = 0; i < bF.Length; i++) bF[i] = (float)(rng.NextDouble() * 2 - 1);
        var aU = aF.Select(ToBf16).ToArray(); var bU = bF.Select(ToBf16).ToArray();
        using var daF = acc.Allocate1D(aF); using var dbF = acc.Allocate1D(bF);
        using var daU = acc.Allocate1D(aU); using var dbU = acc.Allocate1D(bU);
        using var dc = acc.Allocate1D<float>((long)m * n);
        var s = acc.DefaultStream;
        var results = new Dictionary<string, object>();
        double flops = 2.0 * m * n * k;
        void Time(string name, Action run, int reps, double work, string unit)
        {
            run(); s.Synchronize(); run(); s.Synchronize();
            var times = new List<double>();
            for (int r = 0; r < reps; r++)
            {
                var sw = Stopwatch.StartNew(); run(); s.Synchronize(); times.Add(sw.Elapsed.TotalSeconds);
            }
            times.Sort();
            double med = times[times.Count / 2];
            double rate = work / med / 1e12;
            Console.WriteLine($"{name}: median {med * 1e3:F3} ms  {rate:F2} {unit}");
            results[name] = new { ms = med * 1e3, rate, unit };
        }
        Time("f32_tiled_NT", () => mm.F32(s, m, n, k, daF.View, k, false, dbF.View, k, true, dc.View, n, false), 10, flops, "TFLOP/s");
        Time("f32_tiled_NN", () => mm.F32(s, m, n, k, daF.View, k, false, dbF.View, n, false, dc.View, n, false), 10, flops, "TFLOP/s");
        Time("bf16_tensorcore_NT", () => mm.Bf16(s, m, n, k, daU.View, k, false, dbU.View, k, true, dc.View, n, false), 20, flops, "TFLOP/s");
        Time("bf16_tiled_NN", () => mm.Bf16(s, m, n, k, daU.View, k, false, dbU.View, n, false, dc.View, n, false), 5, flops, "TFLOP/s");
        Time("f32bf16_tiled_NT", () => mm.F32Bf16(s, m, n, k, daF.View, k, false, dbU.View, k, true, dc.View, n, false), 5, flops, "TFLOP/s");
        foreach (var (pm, pn, pk) in new[] { (2048, 4096, 4096), (2048, 14336, 4096), (2048, 4096, 14336), (8192, 8192, 8192) })
        {
            using var xa = acc.Allocate1D<ushort>((long)pm * pk); using var xb = acc.Allocate1D<ushort>((long)pn * pk);
            using var xc = acc.Allocate1D<float>((long)pm * pn);
            xa.View.CopyFromCPU(Enumerable.Range(0, (int)((long)pm * pk)).Select(i => aU[i % aU.Length]).ToArray());
            xb.View.CopyFromCPU(Enumerable.Range(0, (int)((long)pn * pk)).Select(i => bU[(i * 7) % bU.Length]).ToArray());
            Time($"bf16_tensorcore_NT_{pm}x{pn}x{pk}", () => mm.Bf16(s, pm, pn, pk, xa.View, pk, false, xb.View, pk, true, xc.View, pn, false), 10, 2.0 * pm * pn * pk, "TFLOP/s");

        }
        // spot-check the 4096^3 tensor-core result on a few rows
        mm.Bf16(s, m, n, k, daU.View, k, false, dbU.View, k, true, dc.View, n, false); s.Synchronize();
        var c = dc.GetAsArray1D();
        double num = 0, den = 0;
        foreach (int r in new[] { 0, 1, 777, m - 1 })
            for (int j = 0; j < n; j++)
            {
                double sum = 0;
                for (int q = 0; q < k; q++) sum += (double)FromBf16(aU[r * k + q]) * FromBf16(bU[j * k + q]);
                double d = c[(long)r * n + j] - sum; num += d * d; den += sum * sum;
            }
        Console.WriteLine($"bf16 tensorcore {m}^3 sampled rows relerr {Math.Sqrt(num / den):E2}");
        // GEMV: 1 x k times weight [n,k] bf16: bytes = n*k*2
        double bytes = (double)n * k * 2 + k * 4 + n * 4;
        Time("gemv_bf16_1xK_NK", () => mm.F32Bf16(s, 1, n, k, daF.View, k, false, dbU.View, k, true, dc.View, n, false), 50, bytes, "TB/s");
        var n2 = 14336; var k2 = 4096; // Llama-3-8B MLP up/gate shape
        using var dW = acc.Allocate1D<ushort>((long)n2 * k2);
        dW.MemSetToZero();
        Time("gemv_bf16_1x4096_14336x4096", () => mm.F32Bf16(s, 1, n2, k2, daF.View, k2, false, dW.View, k2, true, dc.View, n2, false), 50, (double)n2 * k2 * 2, "TB/s");
        Console.WriteLine("JSON " + JsonSerializer.Serialize(results));
    }
}
