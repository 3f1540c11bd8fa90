using PureLlama.Tensors;

namespace PureLlama.Distributed;

/// <summary>Argument checks shared by the communicators.</summary>
internal static class CollectiveChecks
{
    public static void Reducible(Tensor buffer)
    {
        ArgumentNullException.ThrowIfNull(buffer);
        if (!buffer.IsContiguous) throw new ArgumentException("An all-reduce buffer must be contiguous.", nameof(buffer));
        if (buffer.DType is not (DType.F32 or DType.BF16))
            throw new ArgumentException($"An all-reduce buffer must be F32 or BF16, not {buffer.DType}.", nameof(buffer));
    }

    public static void Root(int root, int size)
    {
        if ((uint)root >= (uint)size) throw new ArgumentOutOfRangeException(nameof(root), root, $"The root rank must be in 0..{size - 1}.");
    }
}
