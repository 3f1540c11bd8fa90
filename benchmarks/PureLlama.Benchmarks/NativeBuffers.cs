using System.Runtime.InteropServices;

namespace PureLlama.Benchmarks;

/// <summary>64-byte aligned native buffers with seeded random non-zero data; freed together.</summary>
internal sealed unsafe class NativeBuffers : IDisposable
{
    private readonly List<nint> _blocks = new();
    private ulong _state = 0x9E3779B97F4A7C15UL;

    public float* F32(long count)
    {
        var p = (float*)Alloc(count * sizeof(float));
        for (long i = 0; i < count; i++) p[i] = Next();
        return p;
    }

    public ushort* Bf16(long count)
    {
        var p = (ushort*)Alloc(count * sizeof(ushort));
        for (long i = 0; i < count; i++)
        {
            uint bits = BitConverter.SingleToUInt32Bits(Next());
            p[i] = (ushort)((bits + 0x7FFFu + ((bits >> 16) & 1u)) >> 16); // round to nearest even
        }
        return p;
    }

    public float* Zeros(long count)
    {
        var p = (float*)Alloc(count * sizeof(float));
        NativeMemory.Clear(p, (nuint)(count * sizeof(float)));
        return p;
    }

    // xorshift64*, uniform in ±[0.01, 1).
    private float Next()
    {
        _state ^= _state >> 12; _state ^= _state << 25; _state ^= _state >> 27;
        ulong r = _state * 0x2545F4914F6CDD1DUL;
        float v = 0.01f + 0.99f * ((r >> 40) * (1f / (1 << 24)));
        return (r & 1) == 0 ? v : -v;
    }

    private void* Alloc(long bytes)
    {
        void* p = NativeMemory.AlignedAlloc((nuint)Math.Max(64, bytes), 64);
        _blocks.Add((nint)p);
        return p;
    }

    public void Dispose()
    {
        foreach (var b in _blocks) NativeMemory.AlignedFree((void*)b);
        _blocks.Clear();
    }
}
