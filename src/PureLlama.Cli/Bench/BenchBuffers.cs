using System.Runtime.InteropServices;
using PureLlama.Kernels.Simd;

namespace PureLlama.Cli.Bench;

/// <summary>
/// Owns the 64-byte aligned native buffers of one benchmark item and frees them together.
/// Buffers are filled with seeded random non-zero values (uniform in ±[0.01, 1)).
/// </summary>
internal sealed unsafe class BenchBuffers : IDisposable
{
    private readonly List<nint> _blocks = new();
    private ulong _state;

    public BenchBuffers(int seed) => _state = 0x9E3779B97F4A7C15UL ^ (ulong)(uint)seed;

    /// <summary>Bytes held by this set.</summary>
    public long Bytes { get; private set; }

    /// <summary>An F32 buffer of <paramref name="count"/> random non-zero values.</summary>
    public float* F32(long count)
    {
        var p = (float*)Alloc(count * sizeof(float));
        for (long i = 0; i < count; i++) p[i] = NextNonZero();
        return p;
    }

    /// <summary>A BF16 buffer (bits) of <paramref name="count"/> random non-zero values.</summary>
    public ushort* Bf16(long count)
    {
        var p = (ushort*)Alloc(count * sizeof(ushort));
        for (long i = 0; i < count; i++) p[i] = Kernels.Numerics.Bf16.FromFloat(NextNonZero());
        return p;
    }

    /// <summary>An uninitialised-then-zeroed F32 output buffer.</summary>
    public float* Zeros(long count)
    {
        var p = (float*)Alloc(count * sizeof(float));
        NativeMemory.Clear(p, (nuint)(count * sizeof(float)));
        return p;
    }

    // xorshift64*: fast enough to fill hundreds of MB; quality is irrelevant here.
    private float NextNonZero()
    {
        _state ^= _state >> 12; _state ^= _state << 25; _state ^= _state >> 27;
        ulong r = _state * 0x2545F4914F6CDD1DUL;
        float v = 0.01f + 0.99f * ((r >> 40) * (1f / (1 << 24)));
        return (r & 1) == 0 ? v : -v;
    }

    private void* Alloc(long bytes)
    {
        void* p = HugePages.Allocate((nuint)Math.Max(64, bytes));
        _blocks.Add((nint)p);
        Bytes += bytes;
        return p;
    }

    public void Dispose()
    {
        foreach (var b in _blocks) HugePages.Free((void*)b);
        _blocks.Clear();
        Bytes = 0;
    }
}
