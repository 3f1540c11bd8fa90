using PureLlama.IO.Gguf;
using PureLlama.Kernels.Blocks;
using PureLlama.Llama;
using PureLlama.Quantization;
using PureLlama.Tensors;

namespace PureLlama.Training;

/// <summary>
/// Writes a PEFT LoRA adapter as a GGUF LoRA adapter that llama.cpp's <c>--lora</c> loads, laid out as its
/// convert_lora_to_gguf writes one: general.type = adapter, adapter.type = lora, adapter.lora.alpha, and per adapted
/// projection <c>&lt;gguf name&gt;.weight.lora_a</c> (A [r, in] → ggml dims [in, r]) and <c>.lora_b</c> (B [out, r] →
/// [r, out], rows of q/k in llama.cpp's RoPE pair order), F32. llama.cpp scales by alpha / r, so alpha is written as
/// scaling · r: an rsLoRA adapter (alpha/√r) keeps its scale.
/// </summary>
public static class GgufLoraExporter
{
    /// <summary>Reads the adapter in <paramref name="adapterDir"/> against the base <paramref name="modelPath"/> and writes <paramref name="outPath"/>; returns a summary.</summary>
    public static string Export(string modelPath, string adapterDir, string outPath)
    {
        ArgumentException.ThrowIfNullOrEmpty(modelPath);
        ArgumentException.ThrowIfNullOrEmpty(adapterDir);
        ArgumentException.ThrowIfNullOrEmpty(outPath);
        using var runtime = LlamaRuntime.Load(modelPath, Device.Cpu, IO.WeightLoading.Mapped);
        using var adapter = LoraAdapter.Load(runtime.Model, adapterDir);
        var config = runtime.Config;
        var writer = new GgufWriter();
        writer.Add("general.architecture", GgufValue.Of("llama"));
        writer.Add("general.type", GgufValue.Of("adapter"));
        writer.Add("general.name", GgufValue.Of(Path.GetFileName(Path.TrimEndingDirectorySeparator(Path.GetFullPath(adapterDir)))));
        writer.Add("adapter.type", GgufValue.Of("lora"));
        var scalings = adapter.Layers.Select(l => l.Layer.Scaling * l.Layer.Rank).Distinct().ToList();
        if (scalings.Count != 1) throw new InvalidDataException($"Adapter '{adapterDir}' has modules with different scales; a GGUF adapter holds one alpha.");
        writer.Add("adapter.lora.alpha", GgufValue.OfFloat32(scalings[0]));
        foreach (var (module, layer) in adapter.Layers.OrderBy(l => l.Module, StringComparer.Ordinal))
        {
            string name = GgufTensorNames.ToGguf(module + ".weight")
                ?? throw new InvalidDataException($"Adapter '{adapterDir}' adapts '{module}', which has no llama.cpp tensor.");
            int r = layer.Rank, inF = layer.InFeatures, outF = layer.OutFeatures;
            var a = layer.A.ToFloatArray();
            var b = layer.B.ToFloatArray();
            writer.AddTensor(name + ".lora_a", GgmlType.F32, [inF, r], () => GgmlQuantizer.QuantizeRows(GgmlType.F32, a, inF));
            writer.AddTensor(name + ".lora_b", GgmlType.F32, [r, outF], () =>
            {
                var bytes = GgmlQuantizer.QuantizeRows(GgmlType.F32, b, r);
                if (!GgufTensorNames.IsRopePermuted(module, out bool isKey)) return bytes;
                var permuted = new byte[bytes.Length];
                GgufRopePermutation.ToGguf(bytes, permuted, outF, isKey ? config.NumKeyValueHeads : config.NumAttentionHeads);
                return permuted;
            });
        }
        writer.WriteFile(outPath);
        return $"{adapter.Layers.Count} adapted projections (r = {adapter.Config.R}, alpha {scalings[0]:G4} for llama.cpp's alpha/r), {new FileInfo(outPath).Length:N0} bytes";
    }
}
