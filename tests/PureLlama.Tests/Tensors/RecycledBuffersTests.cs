using System.Runtime.InteropServices;
using PureLlama.Tensors;

namespace PureLlama.Tests.Tensors;

/// <summary>Reuse of freed decode-step buffers: same size only, within the bounds, zeroed again when a tensor asks for zeros.</summary>
public sealed unsafe class RecycledBuffersTests
{
    [Fact]
    public void A_kept_buffer_comes_back_for_the_same_size_only()
    {
        var buffers = new RecycledBuffers();
        nuint size = (nuint)(RecycledBuffers.MinBytes + 4096 * 7 + 64);
        byte* p = (byte*)NativeMemory.AlignedAlloc(size, 64);
        buffers.TryKeep(p, size).Should().BeTrue();
        ((nint)buffers.TryTake(size + 64)).Should().Be(0, "another size never gets it");
        ((nint)buffers.TryTake(size)).Should().Be((nint)p);
        ((nint)buffers.TryTake(size)).Should().Be(0, "it was handed out once");
        NativeMemory.AlignedFree(p);
    }

    [Fact]
    public void Sizes_outside_the_bounds_are_not_kept()
    {
        var buffers = new RecycledBuffers();
        byte* small = (byte*)NativeMemory.AlignedAlloc(1024, 64);
        buffers.TryKeep(small, 1024).Should().BeFalse();
        NativeMemory.AlignedFree(small);
        nuint big = (nuint)RecycledBuffers.MaxSize + 64;
        byte* large = (byte*)NativeMemory.AlignedAlloc(big, 64);
        buffers.TryKeep(large, big).Should().BeFalse();
        NativeMemory.AlignedFree(large);
    }

    [Fact]
    public void At_most_MaxPerSize_buffers_of_one_size_are_kept()
    {
        var buffers = new RecycledBuffers();
        nuint size = (nuint)(RecycledBuffers.MinBytes + 4096 * 11 + 128);
        var kept = new List<nint>();
        for (int i = 0; i < RecycledBuffers.MaxPerSize + 2; i++)
        {
            byte* p = (byte*)NativeMemory.AlignedAlloc(size, 64);
            if (buffers.TryKeep(p, size)) kept.Add((nint)p);
            else NativeMemory.AlignedFree(p);
        }
        kept.Count.Should().Be(RecycledBuffers.MaxPerSize);
        for (byte* p; (p = buffers.TryTake(size)) != null;) NativeMemory.AlignedFree(p);
    }

    [Fact]
    public void No_more_than_MaxBytes_are_kept_in_all()
    {
        var buffers = new RecycledBuffers();
        long keptBytes = 0;
        var sizes = Enumerable.Range(0, 12).Select(i => (nuint)(RecycledBuffers.MaxSize - 64 * i)).ToArray();   // 12 different sizes near 8 MiB
        foreach (var size in sizes)
        {
            byte* p = (byte*)NativeMemory.AlignedAlloc(size, 64);
            if (buffers.TryKeep(p, size)) keptBytes += (long)size;
            else NativeMemory.AlignedFree(p);
        }
        keptBytes.Should().BeLessThanOrEqualTo(RecycledBuffers.MaxBytes).And.BeGreaterThan(RecycledBuffers.MaxBytes - RecycledBuffers.MaxSize);
        foreach (var size in sizes)
            for (byte* p; (p = buffers.TryTake(size)) != null;) NativeMemory.AlignedFree(p);
    }

    [Fact]
    public void A_tensor_on_a_recycled_buffer_starts_zeroed()
    {
        var shape = new Shape(3, 65_537);   // 786 KB of F32: a recycled size
        for (int round = 0; round < 3; round++)
        {
            using var t = Tensor.Zeros(shape, DType.F32, Device.Cpu);
            t.ToFloatArray().Should().OnlyContain(x => x == 0f);
            new Span<float>(t.Pointer<float>(), (int)t.Numel).Fill(round + 1f);
        }
    }
}
