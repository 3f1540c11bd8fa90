using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using PureLlama.Kernels.Simd;

namespace PureLlama.Cli.Bench;

/// <summary>The machine's measured ceilings: F32 FMA peak and memory bandwidth.</summary>
/// <param name="Threads">Threads used for every probe.</param>
/// <param name="VectorBits">Width of the FMA vectors (512 or 256).</param>
/// <param name="FmaGflops">F32 FMA peak, GFLOP/s (an FMA counts 2 flops).</param>
/// <param name="ReadGBps">Read-only streaming bandwidth, GB/s (10⁹ bytes), from memory on the pages the weights get
/// (2 MiB transparent huge pages where <see cref="HugePages.Enabled"/>).</param>
/// <param name="ReadSmallPagesGBps">The same read from memory on 4 KiB pages (what a process that does not ask for huge pages gets).</param>
/// <param name="CopyGBps">Copy bandwidth, GB/s, counting bytes read plus bytes written.</param>
/// <param name="BufferBytes">Size of the streamed buffer.</param>
internal sealed record RooflineFigures(int Threads, int VectorBits, double FmaGflops, double ReadGBps, double ReadSmallPagesGBps, double CopyGBps, long BufferBytes);

/// <summary>
/// Probes the roofline in managed code. FMA: every thread runs 16 independent register-resident
/// FMA chains (Zen 5 has two 512-bit FMA pipes with 4-cycle latency, so 8 chains already fill
/// them; 16 leave a margin). Bandwidth: each thread streams its own contiguous part of one large
/// buffer — a sum with 8 vector accumulators (read-only), and a vector load/store copy of one
/// half of the buffer onto the other (normal stores, as the kernels use; write-allocate traffic
/// is not counted). Every probe is repeated and the best pass is kept: a ceiling is what the
/// machine can do, and noise only ever lowers a pass. The buffer sits on the pages the weights get
/// (<see cref="HugePages"/>); the read is measured once more on 4 KiB pages, because on a VM the two differ
/// by up to 2× (nested page walks: a 2 MiB page costs one TLB entry where 4 KiB pages cost 512).
/// </summary>
internal static unsafe class Roofline
{
    private const int Chains = 16;

    /// <summary>Measures all three figures with <paramref name="threads"/> threads.</summary>
    public static RooflineFigures Measure(int threads, long bufferBytes = 1L << 30, int passes = 5)
    {
        double fma = MeasureFma(threads, passes);
        var (read, copy) = MeasureBandwidth(threads, bufferBytes, passes);
        double readSmall = MeasureBandwidth(threads, bufferBytes, passes, hugePages: false, copy: false).ReadGBps;
        return new RooflineFigures(threads, Vector512.IsHardwareAccelerated ? 512 : 256, fma, read, readSmall, copy, bufferBytes);
    }

    /// <summary>F32 FMA peak in GFLOP/s over <paramref name="threads"/> threads.</summary>
    public static double MeasureFma(int threads, int passes = 5)
    {
        bool wide = Vector512.IsHardwareAccelerated;
        long flopsPerIteration = Chains * (wide ? 16 : 8) * 2L;
        // Calibrate to ≈ 0.25 s per pass (also tiers the loop up).
        long iterations = 1 << 20;
        double seconds = RunParallel(1, _ => Fma(wide, iterations));
        iterations = Math.Max(1 << 20, (long)(iterations * 0.25 / Math.Max(seconds, 1e-6)));
        double best = 0;
        for (int p = 0; p < passes; p++)
        {
            seconds = RunParallel(threads, _ => Fma(wide, iterations));
            best = Math.Max(best, threads * iterations * flopsPerIteration / seconds / 1e9);
        }
        return best;
    }

    /// <summary>
    /// Read-only and copy bandwidth (GB/s) over a buffer of <paramref name="bufferBytes"/>, on huge pages like the weights
    /// (<paramref name="hugePages"/>) or on 4 KiB pages; the copy probe is skipped (0) without <paramref name="copy"/>.
    /// </summary>
    public static (double ReadGBps, double CopyGBps) MeasureBandwidth(int threads, long bufferBytes, int passes = 5, bool hugePages = true, bool copy = true)
    {
        long floats = bufferBytes / sizeof(float) / (64 * threads) * (64 * threads);
        nuint size = (nuint)(floats * sizeof(float));
        var buf = (float*)(hugePages ? HugePages.Allocate(size) : NativeMemory.AlignedAlloc(size, 64));
        try
        {
            // Touch every page from the threads that will read it.
            RunParallel(threads, t =>
            {
                var (s, e) = Part(floats, threads, t);
                for (long i = s; i < e; i += 1 << 28)
                    new Span<float>(buf + i, (int)Math.Min(1 << 28, e - i)).Fill(1f / (t + 2));
            });
            double read = 0, copied = 0;
            for (int p = 0; p < passes; p++)
            {
                double sec = RunParallel(threads, t => { var (s, e) = Part(floats, threads, t); Sink(SumRange(buf + s, e - s)); });
                read = Math.Max(read, floats * sizeof(float) / sec / 1e9);
            }
            long half = floats / 2;
            for (int p = 0; copy && p < passes; p++)
            {
                double sec = RunParallel(threads, t =>
                {
                    var (s, e) = Part(half, threads, t);
                    CopyRange(buf + s, buf + half + s, e - s);
                });
                copied = Math.Max(copied, 2.0 * half * sizeof(float) / sec / 1e9);
            }
            return (read, copied);
        }
        finally
        {
            if (hugePages) HugePages.Free(buf);
            else NativeMemory.AlignedFree(buf);
        }
    }

    private static (long Start, long End) Part(long n, int parts, int i)
    {
        long per = n / parts / 64 * 64;
        return (i * per, i == parts - 1 ? n : (i + 1) * per);
    }

    // Runs body(t) on `threads` fresh threads released together; returns wall seconds.
    private static double RunParallel(int threads, Action<int> body)
    {
        using var start = new Barrier(threads + 1);
        var workers = new Thread[threads];
        for (int t = 0; t < threads; t++)
        {
            int id = t;
            workers[t] = new Thread(() => { start.SignalAndWait(); body(id); }) { IsBackground = true };
            workers[t].Start();
        }
        start.SignalAndWait();
        var sw = Stopwatch.StartNew();
        foreach (var w in workers) w.Join();
        return sw.Elapsed.TotalSeconds;
    }

    private static volatile float _sink;
    private static void Sink(float v) => _sink = v;

    private static void Fma(bool wide, long iterations) => Sink(wide ? Fma512(iterations) : Fma256(iterations));

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static float Fma512(long iterations)
    {
        var m = Vector512.Create(0.9999999f);
        var c = Vector512.Create(1e-7f);
        Vector512<float> a0 = Vector512.Create(0.10f), a1 = Vector512.Create(0.11f), a2 = Vector512.Create(0.12f), a3 = Vector512.Create(0.13f);
        Vector512<float> a4 = Vector512.Create(0.14f), a5 = Vector512.Create(0.15f), a6 = Vector512.Create(0.16f), a7 = Vector512.Create(0.17f);
        Vector512<float> a8 = Vector512.Create(0.18f), a9 = Vector512.Create(0.19f), a10 = Vector512.Create(0.20f), a11 = Vector512.Create(0.21f);
        Vector512<float> a12 = Vector512.Create(0.22f), a13 = Vector512.Create(0.23f), a14 = Vector512.Create(0.24f), a15 = Vector512.Create(0.25f);
        for (long i = 0; i < iterations; i++)
        {
            a0 = Vector512.FusedMultiplyAdd(a0, m, c); a1 = Vector512.FusedMultiplyAdd(a1, m, c);
            a2 = Vector512.FusedMultiplyAdd(a2, m, c); a3 = Vector512.FusedMultiplyAdd(a3, m, c);
            a4 = Vector512.FusedMultiplyAdd(a4, m, c); a5 = Vector512.FusedMultiplyAdd(a5, m, c);
            a6 = Vector512.FusedMultiplyAdd(a6, m, c); a7 = Vector512.FusedMultiplyAdd(a7, m, c);
            a8 = Vector512.FusedMultiplyAdd(a8, m, c); a9 = Vector512.FusedMultiplyAdd(a9, m, c);
            a10 = Vector512.FusedMultiplyAdd(a10, m, c); a11 = Vector512.FusedMultiplyAdd(a11, m, c);
            a12 = Vector512.FusedMultiplyAdd(a12, m, c); a13 = Vector512.FusedMultiplyAdd(a13, m, c);
            a14 = Vector512.FusedMultiplyAdd(a14, m, c); a15 = Vector512.FusedMultiplyAdd(a15, m, c);
        }
        var s = ((a0 + a1) + (a2 + a3)) + ((a4 + a5) + (a6 + a7)) + ((a8 + a9) + (a10 + a11)) + ((a12 + a13) + (a14 + a15));
        return Vector512.Sum(s);
    }

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static float Fma256(long iterations)
    {
        var m = Vector256.Create(0.9999999f);
        var c = Vector256.Create(1e-7f);
        Vector256<float> a0 = Vector256.Create(0.10f), a1 = Vector256.Create(0.11f), a2 = Vector256.Create(0.12f), a3 = Vector256.Create(0.13f);
        Vector256<float> a4 = Vector256.Create(0.14f), a5 = Vector256.Create(0.15f), a6 = Vector256.Create(0.16f), a7 = Vector256.Create(0.17f);
        Vector256<float> a8 = Vector256.Create(0.18f), a9 = Vector256.Create(0.19f), a10 = Vector256.Create(0.20f), a11 = Vector256.Create(0.21f);
        Vector256<float> a12 = Vector256.Create(0.22f), a13 = Vector256.Create(0.23f), a14 = Vector256.Create(0.24f), a15 = Vector256.Create(0.25f);
        for (long i = 0; i < iterations; i++)
        {
            a0 = Vector256.FusedMultiplyAdd(a0, m, c); a1 = Vector256.FusedMultiplyAdd(a1, m, c);
            a2 = Vector256.FusedMultiplyAdd(a2, m, c); a3 = Vector256.FusedMultiplyAdd(a3, m, c);
            a4 = Vector256.FusedMultiplyAdd(a4, m, c); a5 = Vector256.FusedMultiplyAdd(a5, m, c);
            a6 = Vector256.FusedMultiplyAdd(a6, m, c); a7 = Vector256.FusedMultiplyAdd(a7, m, c);
            a8 = Vector256.FusedMultiplyAdd(a8, m, c); a9 = Vector256.FusedMultiplyAdd(a9, m, c);
            a10 = Vector256.FusedMultiplyAdd(a10, m, c); a11 = Vector256.FusedMultiplyAdd(a11, m, c);
            a12 = Vector256.FusedMultiplyAdd(a12, m, c); a13 = Vector256.FusedMultiplyAdd(a13, m, c);
            a14 = Vector256.FusedMultiplyAdd(a14, m, c); a15 = Vector256.FusedMultiplyAdd(a15, m, c);
        }
        var s = ((a0 + a1) + (a2 + a3)) + ((a4 + a5) + (a6 + a7)) + ((a8 + a9) + (a10 + a11)) + ((a12 + a13) + (a14 + a15));
        return Vector256.Sum(s);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static float SumRange(float* p, long n)
    {
        Vector512<float> s0 = default, s1 = default, s2 = default, s3 = default, s4 = default, s5 = default, s6 = default, s7 = default;
        long i = 0;
        for (; i + 128 <= n; i += 128)
        {
            s0 += Vector512.LoadAligned(p + i); s1 += Vector512.LoadAligned(p + i + 16);
            s2 += Vector512.LoadAligned(p + i + 32); s3 += Vector512.LoadAligned(p + i + 48);
            s4 += Vector512.LoadAligned(p + i + 64); s5 += Vector512.LoadAligned(p + i + 80);
            s6 += Vector512.LoadAligned(p + i + 96); s7 += Vector512.LoadAligned(p + i + 112);
        }
        float tail = 0;
        for (; i < n; i++) tail += p[i];
        return Vector512.Sum(((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7))) + tail;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void CopyRange(float* src, float* dst, long n)
    {
        long i = 0;
        for (; i + 64 <= n; i += 64)
        {
            var v0 = Vector512.Load(src + i); var v1 = Vector512.Load(src + i + 16);
            var v2 = Vector512.Load(src + i + 32); var v3 = Vector512.Load(src + i + 48);
            v0.Store(dst + i); v1.Store(dst + i + 16); v2.Store(dst + i + 32); v3.Store(dst + i + 48);
        }
        for (; i < n; i++) dst[i] = src[i];
    }
}
