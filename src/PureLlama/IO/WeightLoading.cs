namespace PureLlama.IO;

/// <summary>How tensor data of a safetensors file reaches memory.</summary>
public enum WeightLoading
{
    /// <summary>
    /// Read with large sequential file reads into 64-byte aligned anonymous native memory
    /// (<see cref="Tensors.NativeStorage"/>), one allocation per tensor. Slower to load, but decode
    /// reads weights from anonymous memory, which is faster on this kind of machine. The default.
    /// </summary>
    Copied = 0,

    /// <summary>
    /// Memory-map the data section (<see cref="Tensors.MappedStorage"/>); tensors are zero-copy,
    /// read-only views. Loads instantly and shares pages with the OS file cache.
    /// </summary>
    Mapped = 1,
}
