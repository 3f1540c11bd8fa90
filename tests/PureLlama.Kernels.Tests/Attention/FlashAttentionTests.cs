using PureLlama.Compute;
using PureLlama.Kernels.Reference;
using PureLlama.Kernels.Simd;
using PureLlama.Kernels.Tests.Harness;
using PureLlama.Tensors;

namespace PureLlama.Kernels.Tests.Attention;

/// <summary>
/// SIMD FlashAttention beyond the shared kernel checks: long sequences against float64, decode equal
/// to the last row of full attention, thread-count independence, bounded memory at 8k/16k, errors.
/// </summary>
public sealed class FlashAttentionTests
{
    private static readonly CpuBackend Cpu = new();

    private static float[] Rand(ulong seed, int n, float lo = -1.5f, float hi = 1.5f)
    {
        var x = new float[n];
        new Rng(seed).FillUniform(x, lo, hi);
        return x;
    }

    private static Tensor T(float[] x, params int[] dims) => Tensor.FromSpan<float>(x, new Shape(dims), DType.F32, Device.Cpu);

    private static (float[] O, float[] Lse) Run(float[] q, float[] k, float[] v, int tokens, int kvLen, int heads, int kvHeads, int d, AttentionSettings s)
    {
        using var tq = T(q, tokens, heads, d);
        using var tk = T(k, kvLen, kvHeads, d);
        using var tv = T(v, kvLen, kvHeads, d);
        using var o = T(Poison.Floats(q.Length), tokens, heads, d);
        using var lse = T(Poison.Floats((long)heads * tokens), heads, tokens);
        Cpu.Attention(tq, tk, tv, o, lse, s);
        return (o.ToArray<float>(), lse.ToArray<float>());
    }

    [Fact]
    public void Causal_4096_matches_float64()
    {
        int n = 4096, d = 64;
        var q = Rand(1, n * d); var k = Rand(2, n * d); var v = Rand(3, n * d);
        var s = AttentionSettings.For(d);
        var (o, lse) = Run(q, k, v, n, n, 1, 1, d, s);
        var (oRef, lseRef) = ReferenceAttention.Forward(q, k, v, new(n, n, 1, 1, d, s.Scale));
        ErrorAssert.Close(o, oRef, 1e-5, "o");
        ErrorAssert.Close(lse, lseRef, 1e-5, "lse");
    }

    [Theory]
    [InlineData(4, 1, 128, 3000)]   // GQA 4, split-KV path (kvLen ≥ 2 chunks)
    [InlineData(8, 1, 64, 1025)]    // GQA 8
    [InlineData(2, 2, 16, 700)]     // no split
    public void Decode_equals_last_rows_of_full_attention(int heads, int kvHeads, int d, int n)
    {
        var q = Rand(4, n * heads * d); var k = Rand(5, n * kvHeads * d); var v = Rand(6, n * kvHeads * d);
        var (full, fullLse) = Run(q, k, v, n, n, heads, kvHeads, d, AttentionSettings.For(d));
        foreach (int tokens in new[] { 1, 3 })
        {
            var lastQ = q[((n - tokens) * heads * d)..];
            var (dec, decLse) = Run(lastQ, k, v, tokens, n, heads, kvHeads, d, AttentionSettings.For(d, queryOffset: n - tokens));
            ErrorAssert.Close(dec, full[((n - tokens) * heads * d)..], 1e-5, $"decode of {tokens}");
            var lastLse = new float[heads * tokens];
            for (int h = 0; h < heads; h++) for (int i = 0; i < tokens; i++) lastLse[h * tokens + i] = fullLse[h * n + n - tokens + i];
            ErrorAssert.Close(decLse, lastLse, 1e-5, $"decode lse of {tokens}");
        }
    }

    [Fact]
    public void Results_do_not_depend_on_the_thread_count()
    {
        int n = 300, heads = 4, kvHeads = 2, d = 32;
        var q = Rand(7, n * heads * d); var k = Rand(8, n * kvHeads * d); var v = Rand(9, n * kvHeads * d); var dO = Rand(10, n * heads * d);
        float[][] Once()
        {
            var s = AttentionSettings.For(d);
            using var tq = T(q, n, heads, d); using var tk = T(k, n, kvHeads, d); using var tv = T(v, n, kvHeads, d);
            using var o = T(new float[q.Length], n, heads, d); using var lse = T(new float[heads * n], heads, n);
            using var tdO = T(dO, n, heads, d);
            using var dq = T(new float[q.Length], n, heads, d); using var dk = T(new float[k.Length], n, kvHeads, d); using var dv = T(new float[v.Length], n, kvHeads, d);
            Cpu.Attention(tq, tk, tv, o, lse, s);
            Cpu.AttentionBackward(tq, tk, tv, o, tdO, lse, dq, dk, dv, s);
            return [o.ToArray<float>(), dq.ToArray<float>(), dk.ToArray<float>(), dv.ToArray<float>()];
        }
        int saved = SimdThreading.MaxThreads;
        float[][] one, many;
        try { SimdThreading.MaxThreads = 1; one = Once(); SimdThreading.MaxThreads = 4; many = Once(); }
        finally { SimdThreading.MaxThreads = saved; }
        for (int i = 0; i < one.Length; i++) ErrorAssert.BitsEqual(many[i], one[i], $"output {i}");
    }

    [Fact]
    public void Working_memory_does_not_grow_with_seq_squared()
    {
        // A sliding window keeps the compute linear, so 8k and 16k run fast; the full score matrix
        // would be 256 MB and 1 GB. Managed allocation per call stays O(threads), native scratch is
        // ScratchBytesPerThread(d) per thread, independent of the sequence length.
        int d = 64;
        long Measure(int n)
        {
            var q = Rand(11, n * d); var k = Rand(12, n * d); var v = Rand(13, n * d);
            using var tq = T(q, n, 1, d); using var tk = T(k, n, 1, d); using var tv = T(v, n, 1, d);
            using var o = T(new float[q.Length], n, 1, d); using var lse = T(new float[n], 1, n);
            var s = AttentionSettings.For(d, window: 128);
            Cpu.Attention(tq, tk, tv, o, lse, s);   // warm-up (JIT)
            long before = GC.GetTotalAllocatedBytes(precise: true);
            Cpu.Attention(tq, tk, tv, o, lse, s);
            return GC.GetTotalAllocatedBytes(precise: true) - before;
        }
        long at8k = Measure(8192), at16k = Measure(16384);
        at8k.Should().BeLessThan(256 * 1024, "managed bytes at 8k");
        at16k.Should().BeLessThan(256 * 1024, "managed bytes at 16k");
        FlashAttention.ScratchBytesPerThread(d).Should().BeLessThan(256 * 1024);
    }

    [Fact]
    public void Bad_arguments_name_the_problem()
    {
        using var q = T(new float[2 * 3 * 8], 2, 3, 8);
        using var k = T(new float[2 * 2 * 8], 2, 2, 8);
        using var o = T(new float[2 * 3 * 8], 2, 3, 8);
        var act = () => Cpu.Attention(q, k, k, o, null, AttentionSettings.For(8));
        act.Should().Throw<ArgumentException>().WithMessage("*3 query heads*2 KV heads*");
        using var q12 = T(new float[2 * 2 * 12], 2, 2, 12);
        using var k12 = T(new float[2 * 2 * 12], 2, 2, 12);
        using var o12 = T(new float[2 * 2 * 12], 2, 2, 12);
        var act2 = () => Cpu.Attention(q12, k12, k12, o12, null, AttentionSettings.For(12));
        act2.Should().Throw<ArgumentException>().WithMessage("*multiple of 8*");
    }
}
