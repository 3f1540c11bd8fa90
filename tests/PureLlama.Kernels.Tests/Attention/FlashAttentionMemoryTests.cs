using PureLlama.Compute;
using PureLlama.Kernels.Simd;
using PureLlama.Kernels.Tests.Harness;
using static PureLlama.Kernels.Tests.Attention.FlashAttentionTests;

namespace PureLlama.Kernels.Tests.Attention;

/// <summary>Reads the process-wide allocation counter, so it runs alone.</summary>
[Collection(SerialCollection.Name)]
public sealed class FlashAttentionMemoryTests
{
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
        SimdFlashAttention.ScratchBytesPerThread(d).Should().BeLessThan(256 * 1024);
    }

}
