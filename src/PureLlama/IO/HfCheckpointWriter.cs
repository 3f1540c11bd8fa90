using System.Globalization;
using System.Text.Json;

namespace PureLlama.IO;

/// <summary>
/// Writes the weights of a Hugging Face model folder as <c>save_pretrained</c> does: one
/// <c>model.safetensors</c> when everything fits in <c>maxShardBytes</c>, else shards
/// <c>model-0000i-of-0000n.safetensors</c> plus <c>model.safetensors.index.json</c>
/// (<c>metadata.total_size</c>, <c>weight_map</c>). Tensors come in groups that never straddle shards
/// (e.g. every component of one quantized weight). Each file is written atomically; weight files of an
/// earlier save that this one does not produce are deleted afterwards, so the folder holds one consistent set.
/// </summary>
internal static class HfCheckpointWriter
{
    /// <summary>transformers' default max_shard_size (5 GB).</summary>
    public const long DefaultMaxShardBytes = 5_000_000_000;

    /// <summary>Writes the groups of tensors into <paramref name="directory"/> (which must exist); returns the weight files written (full paths).</summary>
    /// <exception cref="ArgumentException">A name repeats, or the shard limit is not positive.</exception>
    public static IReadOnlyList<string> WriteWeights(string directory, IReadOnlyList<IReadOnlyList<(string Name, Tensors.Tensor Tensor)>> groups,
        long maxShardBytes = DefaultMaxShardBytes, IReadOnlyDictionary<string, string>? metadata = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        ArgumentNullException.ThrowIfNull(groups);
        if (maxShardBytes <= 0) throw new ArgumentException($"The shard size limit must be positive, got {maxShardBytes}.", nameof(maxShardBytes));
        metadata ??= new Dictionary<string, string> { ["format"] = "pt" };
        string dir = Path.GetFullPath(directory);

        // Greedy packing in the given order, as transformers' shard_checkpoint does.
        var shards = new List<List<(string Name, Tensors.Tensor Tensor)>> { new() };
        long current = 0, total = 0;
        foreach (var group in groups)
        {
            long bytes = group.Sum(e => e.Tensor.ByteLength);
            if (current > 0 && current + bytes > maxShardBytes) { shards.Add([]); current = 0; }
            shards[^1].AddRange(group);
            current += bytes;
            total += bytes;
        }
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (name, _) in shards.SelectMany(s => s))
            if (!names.Add(name)) throw new ArgumentException($"Tensor '{name}' appears twice in the weights to write.", nameof(groups));

        var written = new List<string>();
        if (shards.Count == 1)
        {
            string single = Path.Combine(dir, HfCheckpoint.SingleFileName);
            SafeTensorsWriter.Write(single, shards[0], metadata);
            written.Add(single);
        }
        else
        {
            var weightMap = new SortedDictionary<string, string>(StringComparer.Ordinal);
            for (int i = 0; i < shards.Count; i++)
            {
                string file = string.Create(CultureInfo.InvariantCulture, $"model-{i + 1:D5}-of-{shards.Count:D5}.safetensors");
                SafeTensorsWriter.Write(Path.Combine(dir, file), shards[i], metadata);
                written.Add(Path.Combine(dir, file));
                foreach (var (name, _) in shards[i]) weightMap[name] = file;
            }
            string index = Path.Combine(dir, HfCheckpoint.IndexFileName);
            AtomicFile.Write(index, stream =>
            {
                using var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true });
                w.WriteStartObject();
                w.WriteStartObject("metadata");
                w.WriteNumber("total_size", total);
                w.WriteEndObject();
                w.WriteStartObject("weight_map");
                foreach (var kv in weightMap) w.WriteString(kv.Key, kv.Value);
                w.WriteEndObject();
                w.WriteEndObject();
            });
            written.Add(index);
        }
        DeleteStale(dir, written);
        return written.Where(p => p.EndsWith(".safetensors", StringComparison.Ordinal)).ToList();
    }

    /// <summary>True for the weight files of a model folder (model*.safetensors and the shard index): what a new save replaces.</summary>
    internal static bool IsWeightFile(string fileName) =>
        fileName == HfCheckpoint.IndexFileName || (fileName.StartsWith("model", StringComparison.Ordinal) && fileName.EndsWith(".safetensors", StringComparison.Ordinal));

    // Weight files of another save (a single file beside new shards, shards of another count, an old index).
    private static void DeleteStale(string dir, List<string> written)
    {
        var keep = new HashSet<string>(written, StringComparer.Ordinal);
        foreach (var path in Directory.EnumerateFiles(dir, "model*.safetensors").Append(Path.Combine(dir, HfCheckpoint.IndexFileName)))
            if (!keep.Contains(path) && File.Exists(path)) File.Delete(path);
    }
}
