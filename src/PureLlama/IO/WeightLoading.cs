namespace PureLlama.IO;

/// <summary>How tensor data of a safetensors file reaches memory.</summary>
public enum WeightLoading
{
    /// <summary>
    /// Read with large sequential file reads into 64-byte aligned anonymous native memory
    /// (<see cref="Tensors.NativeStorage"/>), one allocation per tensor. Slower to load, but decode
    /// reads weights from anonymous memory, which is faster on this kind of machine. The default.
    /// A GGUF file's block-format weights that the CPU multiplies from repacked tiles (or that are uploaded to a GPU)
    /// are the exception: their stored blocks stay a view of the mapped file, read on demand, so the file must not be
    /// rewritten in place while the model is loaded (docs/formats.md).
    /// </summary>
    Copied = 0,

    /// <summary>
    /// Memory-map the data section (<see cref="Tensors.MappedStorage"/>); tensors are zero-copy,
    /// read-only views. Loads instantly and shares pages with the OS file cache.
    /// </summary>
    Mapped = 1,
}
