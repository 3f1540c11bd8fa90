using System.Runtime.InteropServices;
using PureLlama.Tensors;

namespace PureLlama.Tests.Tensors;

/// <summary>Reuse of freed decode-step buffers: same size only, within the bounds, zeroed again when a tensor asks for zeros.</summary>
public sealed unsafe class RecycledBuffersTests
{
    [Fact]
    public void A_kept_buffer_comes_back_for_the_same_size_only()
    {
        nuint size = (nuint)(RecycledBuffers.MinBytes + 4096 * 7 + 64);   // a size no other test allocates
        byte* p = (byte*)NativeMemory.AlignedAlloc(size, 64);
        RecycledBuffers.TryKeep(p, size).Should().BeTrue();
        ((nint)RecycledBuffers.TryTake(size + 64)).Should().Be(0, "another size never gets it");
        ((nint)RecycledBuffers.TryTake(size)).Should().Be((nint)p);
        ((nint)RecycledBuffers.TryTake(size)).Should().Be(0, "it was handed out once");
        NativeMemory.AlignedFree(p);
    }

    [Fact]
    public void Sizes_outside_the_bounds_are_not_kept()
    {
        byte* small = (byte*)NativeMemory.AlignedAlloc(1024, 64);
        RecycledBuffers.TryKeep(small, 1024).Should().BeFalse();
        NativeMemory.AlignedFree(small);
        nuint big = (nuint)RecycledBuffers.MaxSize + 64;
        byte* large = (byte*)NativeMemory.AlignedAlloc(big, 64);
        RecycledBuffers.TryKeep(large, big).Should().BeFalse();
        NativeMemory.AlignedFree(large);
    }

    [Fact]
    public void At_most_MaxPerSize_buffers_of_one_size_are_kept()
    {
        nuint size = (nuint)(RecycledBuffers.MinBytes + 4096 * 11 + 128);
        var kept = new List<nint>();
        for (int i = 0; i < RecycledBuffers.MaxPerSize + 2; i++)
        {
            byte* p = (byte*)NativeMemory.AlignedAlloc(size, 64);
            if (RecycledBuffers.TryKeep(p, size)) kept.Add((nint)p);
            else NativeMemory.AlignedFree(p);
        }
        kept.Count.Should().Be(RecycledBuffers.MaxPerSize);
        for (byte* p; (p = RecycledBuffers.TryTake(size)) != null;) NativeMemory.AlignedFree(p);
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
