using PureLlama.IO;
using PureLlama.Llama;
using PureLlama.Tensors;

namespace PureLlama.Training;

/// <summary>
/// Rewrites a Hugging Face model folder as a dense one in a floating-point type (F32 ↔ BF16): one model.safetensors,
/// config.json with torch_dtype updated (and a quantization_config dropped), tokenizer and generation files copied.
/// Used to ship the F32 master weights of a pretraining run as a BF16 model, or to dequantize an NF4/INT8/GPTQ/AWQ folder.
/// A llama.cpp .gguf file is converted into such a folder too (<see cref="GgufToHf"/>).
/// </summary>
public static class CheckpointConverter
{
    /// <summary>Converts <paramref name="modelDir"/> (a folder or a .gguf file) into <paramref name="outDir"/> as <paramref name="dtype"/> (F32 or BF16).</summary>
    /// <exception cref="ArgumentException">The folders are the same, or the type is not F32/BF16.</exception>
    public static void Convert(string modelDir, string outDir, DType dtype)
    {
        ArgumentException.ThrowIfNullOrEmpty(modelDir);
        ArgumentException.ThrowIfNullOrEmpty(outDir);
        if (dtype is not (DType.F32 or DType.BF16)) throw new ArgumentException($"The converted checkpoint's dtype must be F32 or BF16, not {dtype}.");
        if (Path.GetFullPath(outDir) == Path.GetFullPath(modelDir)) throw new ArgumentException($"The output folder '{outDir}' must differ from the model folder.");
        if (File.Exists(modelDir) && IO.Gguf.GgufFile.IsGguf(modelDir))
        {
            GgufToHf.Convert(modelDir, outDir, dtype);
            return;
        }
        using var checkpoint = HfCheckpoint.Open(modelDir);
        var config = LlamaConfig.FromFile(checkpoint.ConfigPath);
        using var model = LlamaModel.Load(checkpoint, config, Device.Cpu, quantize: null);   // dense or quantized (dequantized when written)
        LoraMerge.WriteModelFolder(model, checkpoint.Directory, outDir, dtype);
    }
}
