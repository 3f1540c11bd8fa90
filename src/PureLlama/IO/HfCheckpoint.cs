using System.Text.Json;
using PureLlama.Tensors;

namespace PureLlama.IO;

/// <summary>
/// A Hugging Face model folder: <c>config.json</c>, the weights as <c>model.safetensors</c> or as
/// shards listed in <c>model.safetensors.index.json</c>, and optionally <c>generation_config.json</c>
/// and tokenizer files (whose paths are exposed, not read). Every weight file is opened and validated
/// on <see cref="Open"/>; a sharded index must agree with its shards tensor by tensor.
/// </summary>
public sealed class HfCheckpoint : IDisposable
{
    /// <summary>Name of the single-file weights.</summary>
    public const string SingleFileName = "model.safetensors";

    /// <summary>Name of the shard index.</summary>
    public const string IndexFileName = "model.safetensors.index.json";

    private readonly List<SafeTensorsFile> _files;
    private readonly Dictionary<string, SafeTensorsFile> _fileOf;

    private HfCheckpoint(string directory, WeightLoading loading, List<SafeTensorsFile> files, Dictionary<string, SafeTensorsFile> fileOf, string? indexPath)
    {
        Directory = directory;
        Loading = loading;
        _files = files;
        _fileOf = fileOf;
        IndexPath = indexPath;
        TensorNames = fileOf.Keys.OrderBy(k => k, StringComparer.Ordinal).ToArray();
    }

    /// <summary>The model folder (full path).</summary>
    public string Directory { get; }

    /// <summary>How the weights were brought into memory.</summary>
    public WeightLoading Loading { get; }

    /// <summary>Path of <c>config.json</c> (it exists).</summary>
    public string ConfigPath => System.IO.Path.Combine(Directory, "config.json");

    /// <summary>Path of <c>generation_config.json</c>, or null when the folder has none.</summary>
    public string? GenerationConfigPath => Existing("generation_config.json");

    /// <summary>Path of <c>tokenizer.json</c>, or null when the folder has none.</summary>
    public string? TokenizerPath => Existing("tokenizer.json");

    /// <summary>Path of <c>tokenizer_config.json</c>, or null when the folder has none.</summary>
    public string? TokenizerConfigPath => Existing("tokenizer_config.json");

    /// <summary>Path of <c>special_tokens_map.json</c>, or null when the folder has none.</summary>
    public string? SpecialTokensMapPath => Existing("special_tokens_map.json");

    /// <summary>Path of the shard index, or null for a single-file checkpoint.</summary>
    public string? IndexPath { get; }

    /// <summary>The open weight files (one, or one per shard).</summary>
    public IReadOnlyList<SafeTensorsFile> Files => _files;

    /// <summary>Every tensor name, sorted (ordinal).</summary>
    public IReadOnlyList<string> TensorNames { get; }

    /// <summary>True when the checkpoint holds a tensor of that name.</summary>
    public bool Contains(string name) => _fileOf.ContainsKey(name);

    /// <summary>The header entry of a tensor.</summary>
    /// <exception cref="InvalidDataException">The checkpoint has no such tensor.</exception>
    public SafeTensorInfo Info(string name) => FileOf(name).Info(name);

    /// <summary>The weight file holding a tensor.</summary>
    /// <exception cref="InvalidDataException">The checkpoint has no such tensor.</exception>
    public SafeTensorsFile FileOf(string name)
    {
        if (_fileOf.TryGetValue(name, out var f)) return f;
        throw new InvalidDataException($"Checkpoint '{Directory}' has no tensor '{name}' (in {DescribeFiles()}).");
    }

    /// <summary>A new view of a tensor (the caller disposes it).</summary>
    /// <exception cref="InvalidDataException">The tensor is missing or of an unsupported dtype.</exception>
    public Tensor GetTensor(string name) => FileOf(name).GetTensor(name);

    /// <summary>
    /// A new view of a tensor after checking its shape and dtype (the caller disposes it). An empty
    /// <paramref name="acceptedDTypes"/> accepts F32, BF16 and F16.
    /// </summary>
    /// <exception cref="InvalidDataException">The tensor is missing, mis-shaped or of a dtype not accepted.</exception>
    public Tensor GetTensor(string name, Shape expectedShape, params DType[] acceptedDTypes)
    {
        var file = FileOf(name);
        var info = file.Info(name);
        if (info.Shape != expectedShape)
            throw new InvalidDataException($"Tensor '{name}' in file '{file.Path}' has shape {info.Shape}, but {expectedShape} was expected.");
        DType[] accepted = acceptedDTypes.Length > 0 ? acceptedDTypes : [DType.F32, DType.BF16, DType.F16];
        if (info.DType is not DType dt || Array.IndexOf(accepted, dt) < 0)
            throw new InvalidDataException($"Tensor '{name}' in file '{file.Path}' has dtype {info.DTypeName}, but one of {string.Join(", ", accepted)} was expected.");
        return file.GetTensor(name);
    }

    /// <summary>
    /// <see cref="SafeTensorsFile.ReadCopy"/> after the checks of <see cref="GetTensor(string, Shape, DType[])"/>:
    /// a tensor in memory of its own, freed when disposed, even when the checkpoint is memory-mapped.
    /// </summary>
    /// <exception cref="InvalidDataException">The tensor is missing, mis-shaped or of a dtype not accepted.</exception>
    public Tensor ReadCopy(string name, Shape expectedShape, params DType[] acceptedDTypes)
    {
        if (Loading == WeightLoading.Copied) return GetTensor(name, expectedShape, acceptedDTypes);
        GetTensor(name, expectedShape, acceptedDTypes).Dispose(); // the checks; a mapped view costs nothing
        return FileOf(name).ReadCopy(name);
    }

    /// <summary>
    /// Opens a model folder: finds <c>config.json</c> and the weights (single file preferred over an
    /// index, as transformers does), opens every weight file and checks the index against the shards.
    /// </summary>
    /// <exception cref="DirectoryNotFoundException">The folder does not exist.</exception>
    /// <exception cref="FileNotFoundException">config.json, the weights or a shard named by the index is missing.</exception>
    /// <exception cref="InvalidDataException">A weight file or the index is malformed or inconsistent.</exception>
    public static HfCheckpoint Open(string directory, WeightLoading loading = WeightLoading.Copied)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        string dir = System.IO.Path.GetFullPath(directory);
        if (File.Exists(dir) && Gguf.GgufFile.IsGguf(dir))
            throw new ArgumentException($"'{dir}' is a GGUF file; this needs a Hugging Face model folder (generate, chat, logits, eval, serve, finetune and export-gguf take .gguf files).");
        if (!System.IO.Directory.Exists(dir)) throw new DirectoryNotFoundException($"Model folder '{dir}' does not exist.");
        string config = System.IO.Path.Combine(dir, "config.json");
        if (!File.Exists(config)) throw new FileNotFoundException($"Model folder '{dir}' has no config.json.", config);

        string single = System.IO.Path.Combine(dir, SingleFileName);
        string index = System.IO.Path.Combine(dir, IndexFileName);
        var files = new List<SafeTensorsFile>();
        var fileOf = new Dictionary<string, SafeTensorsFile>(StringComparer.Ordinal);
        try
        {
            if (File.Exists(single))
            {
                var f = SafeTensorsFile.Open(single, loading);
                files.Add(f);
                foreach (var t in f.Tensors) fileOf[t.Name] = f;
                return new HfCheckpoint(dir, loading, files, fileOf, null);
            }
            if (!File.Exists(index))
            {
                string hint = File.Exists(System.IO.Path.Combine(dir, "pytorch_model.bin")) || File.Exists(System.IO.Path.Combine(dir, "pytorch_model.bin.index.json"))
                    ? " It has PyTorch pickle weights (pytorch_model.bin), which PureLlama does not read: convert them to safetensors."
                    : "";
                throw new FileNotFoundException($"Model folder '{dir}' has neither {SingleFileName} nor {IndexFileName}.{hint}", single);
            }
            var weightMap = ReadWeightMap(index);
            foreach (var shardName in weightMap.Values.Distinct(StringComparer.Ordinal).OrderBy(s => s, StringComparer.Ordinal))
            {
                string shardPath = System.IO.Path.Combine(dir, shardName);
                if (!File.Exists(shardPath))
                    throw new FileNotFoundException($"Shard index '{index}' names file '{shardName}', which is not in '{dir}'.", shardPath);
                var f = SafeTensorsFile.Open(shardPath, loading);
                files.Add(f);
                foreach (var t in f.Tensors)
                {
                    if (!weightMap.TryGetValue(t.Name, out var listed))
                        throw new InvalidDataException($"Tensor '{t.Name}' is in shard '{shardPath}' but not in the weight_map of '{index}'.");
                    if (listed != shardName)
                        throw new InvalidDataException($"Tensor '{t.Name}' is in shard '{shardPath}', but the weight_map of '{index}' places it in '{listed}'.");
                    fileOf[t.Name] = f;
                }
            }
            var missing = weightMap.Keys.Where(k => !fileOf.ContainsKey(k)).OrderBy(k => k, StringComparer.Ordinal).ToList();
            if (missing.Count > 0)
                throw new InvalidDataException($"The weight_map of '{index}' lists {missing.Count} tensor(s) that are not in their shard: "
                    + string.Join("; ", missing.Take(20).Select(m => $"'{m}' (expected in '{weightMap[m]}')")) + (missing.Count > 20 ? $"; and {missing.Count - 20} more" : "") + ".");
            return new HfCheckpoint(dir, loading, files, fileOf, index);
        }
        catch
        {
            foreach (var f in files) f.Dispose();
            throw;
        }
    }

    /// <summary>Reads the <c>weight_map</c> (tensor name → shard file name) of an index file.</summary>
    internal static Dictionary<string, string> ReadWeightMap(string indexPath)
    {
        using (var doc = StrictJson.ParseFile(indexPath))
        {
            if (doc.RootElement.ValueKind != JsonValueKind.Object || !doc.RootElement.TryGetProperty("weight_map", out var map) || map.ValueKind != JsonValueKind.Object)
                throw new InvalidDataException($"Shard index '{indexPath}' has no object field 'weight_map'.");
            var result = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var p in map.EnumerateObject())
            {
                if (p.Value.ValueKind != JsonValueKind.String)
                    throw new InvalidDataException($"Shard index '{indexPath}': weight_map entry '{p.Name}' must be a file name string, not a JSON {p.Value.ValueKind}.");
                string file = p.Value.GetString()!;
                if (file.Length == 0 || file != System.IO.Path.GetFileName(file) || file is "." or "..")
                    throw new InvalidDataException($"Shard index '{indexPath}': weight_map entry '{p.Name}' names '{file}', which is not a plain file name in the model folder.");
                if (!result.TryAdd(p.Name, file))
                    throw new InvalidDataException($"Shard index '{indexPath}' lists tensor '{p.Name}' twice in its weight_map.");
            }
            if (result.Count == 0) throw new InvalidDataException($"Shard index '{indexPath}' has an empty weight_map.");
            return result;
        }
    }

    private string? Existing(string fileName)
    {
        string p = System.IO.Path.Combine(Directory, fileName);
        return File.Exists(p) ? p : null;
    }

    private string DescribeFiles() => _files.Count == 1 ? $"'{_files[0].Path}'" : $"{_files.Count} shards listed in '{IndexPath}'";

    /// <summary>Releases the checkpoint's hold on all weight memory; tensor views still in use keep theirs.</summary>
    public void Dispose()
    {
        foreach (var f in _files) f.Dispose();
    }
}
