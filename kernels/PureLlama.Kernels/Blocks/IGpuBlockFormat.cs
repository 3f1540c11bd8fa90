// The device-side half of a block format: one value of a block, read from a byte view (ILGPU kernels
// take it as a struct type argument; the same format structs implement it).
using ILGPU;

namespace PureLlama.Kernels.Blocks;

/// <summary>Decodes one value of a block in device code.</summary>
internal interface IGpuBlockFormat
{
    /// <summary>Value <paramref name="i"/> of the block that starts at byte <paramref name="start"/> of <paramref name="data"/>.</summary>
    float Element(ArrayView<byte> data, int start, int i);
}
