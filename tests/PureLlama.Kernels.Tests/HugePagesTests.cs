using PureLlama.Kernels.Simd;
using Xunit;

namespace PureLlama.Kernels.Tests;

/// <summary>Large buffers of <see cref="HugePages"/>: zeroed in parallel pieces, every byte, ragged tails included.</summary>
public unsafe class HugePagesTests
{
    [Theory]
    [InlineData(100)]                       // under a huge page: ordinary allocation
    [InlineData(3 * (2 << 20) + 17)]        // three pages and a tail: one clear
    [InlineData(9 * (2 << 20) + 4093)]      // parallel pieces and a ragged last piece
    public void AllocateZeroed_gives_zeros_after_the_same_sizes_were_dirtied(int bytes)
    {
        // Dirty buffers of the same size first, so that a reused block would show as non-zero bytes.
        for (int round = 0; round < 2; round++)
        {
            byte* dirty = (byte*)HugePages.Allocate((nuint)bytes);
            new Span<byte>(dirty, bytes).Fill(0xA5);
            HugePages.Free(dirty);
        }
        byte* p = (byte*)HugePages.AllocateZeroed((nuint)bytes);
        try
        {
            Assert.Equal(0, (long)p % 64);
            int firstNonZero = new ReadOnlySpan<byte>(p, bytes).IndexOfAnyExcept((byte)0);
            Assert.Equal(-1, firstNonZero);
        }
        finally { HugePages.Free(p); }
    }
}
