using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using PureLlama.Tensors;

namespace PureLlama.Diagnostics.Fuzzing;

/// <summary>
/// Structure-aware mutations of a valid file: JSON type swaps, extreme and negative numbers, lone surrogates,
/// invalid UTF-8, deep nesting, dropped or duplicated members (on JSON, on each JSONL line, on a safetensors
/// header), and byte-level bit flips, truncations, insertions and length-prefix edits on anything.
/// Every mutation is a pure function of the input and the <see cref="Rng"/> state: (seed, index) replays it.
/// </summary>
internal static class Mutator
{
    private static readonly string[] s_extremeNumbers =
    [
        "0", "-1", "-2147483648", "2147483647", "2147483648", "4294967296", "9223372036854775807", "-9223372036854775809",
        "1e308", "-1e308", "1e309", "1e-320", "5e-324", "0.5", "-0.0", "1073741824", "2000000000", "1e6",
    ];

    private const string SurrogateMarker = "@@lone-surrogate@@";

    private static readonly JsonSerializerOptions s_raw = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>What kind of file the bytes hold (chooses the structure-aware mutations).</summary>
    public enum Kind { Json, JsonLines, SafeTensors, Gguf }

    /// <summary>A mutated copy of <paramref name="input"/>; 1–3 mutations stacked.</summary>
    public static byte[] Mutate(byte[] input, Kind kind, Rng rng)
    {
        byte[] data = input;
        int rounds = 1 + rng.NextInt(3);
        for (int r = 0; r < rounds; r++)
        {
            int choice = rng.NextInt(10);
            data = choice switch
            {
                < 6 => kind switch
                {
                    Kind.Json => MutateJson(data, rng),
                    Kind.JsonLines => MutateLine(data, rng),
                    Kind.Gguf => MutateGguf(data, rng),
                    _ => MutateSafeTensors(data, rng),
                },
                _ => MutateBytes(data, rng),
            };
        }
        return data;
    }

    // ---- bytes ----

    public static byte[] MutateBytes(byte[] data, Rng rng)
    {
        if (data.Length == 0) return [(byte)rng.NextInt(256)];
        var d = (byte[])data.Clone();
        switch (rng.NextInt(6))
        {
            case 0: // bit flips
                for (int k = 1 + rng.NextInt(8); k > 0; k--) d[rng.NextInt(d.Length)] ^= (byte)(1 << rng.NextInt(8));
                return d;
            case 1: // truncation
                return d[..rng.NextInt(d.Length)];
            case 2: // interesting byte runs
                {
                    byte[] interesting = [0x00, 0xFF, 0x7F, 0x80, 0xC0, 0xED, 0xF4, (byte)'"', (byte)'\\', (byte)'{', (byte)'['];
                    int at = rng.NextInt(d.Length);
                    for (int k = 0; k < 1 + rng.NextInt(4) && at + k < d.Length; k++) d[at + k] = interesting[rng.NextInt(interesting.Length)];
                    return d;
                }
            case 3: // delete a range
                {
                    int at = rng.NextInt(d.Length), len = 1 + rng.NextInt(Math.Min(64, d.Length - at));
                    return [.. d[..at], .. d[(at + len)..]];
                }
            case 4: // duplicate a range
                {
                    int at = rng.NextInt(d.Length), len = 1 + rng.NextInt(Math.Min(64, d.Length - at));
                    return [.. d[..(at + len)], .. d[at..(at + len)], .. d[(at + len)..]];
                }
            default: // invalid UTF-8 sequence inserted
                {
                    byte[][] bad = [[0xFF], [0xC3, 0x28], [0xED, 0xA0, 0x80], [0xF8, 0x88, 0x80, 0x80, 0x80], [0xE2, 0x82]];
                    int at = rng.NextInt(d.Length);
                    return [.. d[..at], .. bad[rng.NextInt(bad.Length)], .. d[at..]];
                }
        }
    }

    // ---- JSON ----

    public static byte[] MutateJson(byte[] data, Rng rng)
    {
        // Inputs already mutated may hold what System.Text.Json will not edit (lone surrogates, duplicate keys): mutate their bytes.
        try { return MutateJsonTree(data, rng); }
        catch (Exception e) when (e is InvalidOperationException or ArgumentException) { return MutateBytes(data, rng); }
    }

    private static byte[] MutateJsonTree(byte[] data, Rng rng)
    {
        JsonNode? root;
        try { root = JsonNode.Parse(data, documentOptions: new JsonDocumentOptions { AllowTrailingCommas = true, CommentHandling = JsonCommentHandling.Skip }); }
        catch (JsonException) { return MutateBytes(data, rng); }
        catch (InvalidOperationException) { return MutateBytes(data, rng); }
        if (root is null) return MutateBytes(data, rng);
        var nodes = new List<(JsonNode? Parent, object Key, JsonNode? Node)>();
        Collect(null, "", root, nodes);
        int kind = rng.NextInt(7);
        if (kind == 6) return Encoding.UTF8.GetBytes(DeepNesting(root.ToJsonString(s_raw), rng));
        var (parent, key, node) = nodes[rng.NextInt(nodes.Count)];
        if (parent is null) return MutateBytes(data, rng);
        JsonNode? replacement = kind switch
        {
            0 => SwapType(node, rng),
            1 => JsonNode.Parse(s_extremeNumbers[rng.NextInt(s_extremeNumbers.Length)]),
            2 => node is JsonValue v && v.TryGetValue(out string? s) ? JsonValue.Create(s + SurrogateMarker) : JsonValue.Create(SurrogateMarker),
            3 => node?.DeepClone() is { } c ? new JsonArray(c, node.DeepClone()) : null,
            4 => node is JsonValue nv && nv.TryGetValue(out double d) ? JsonValue.Create(-d) : JsonValue.Create(-1),
            _ => null, // 5: remove
        };
        if (kind == 5)
        {
            if (parent is JsonObject po) po.Remove((string)key);
            else if (parent is JsonArray pa) pa.RemoveAt((int)key);
        }
        else Set(parent, key, replacement);
        string text = root.ToJsonString(s_raw);
        // A lone surrogate cannot pass through UTF-8 encoding as text: write its escape, as a hostile file would.
        return Encoding.UTF8.GetBytes(text.Replace(SurrogateMarker, "\\ud800", StringComparison.Ordinal));
    }

    private static void Collect(JsonNode? parent, object key, JsonNode? node, List<(JsonNode?, object, JsonNode?)> into)
    {
        if (into.Count > 4000) return;
        into.Add((parent, key, node));
        if (node is JsonObject o) foreach (var (k, v) in o.ToList()) Collect(o, k, v, into);
        else if (node is JsonArray a) for (int i = 0; i < a.Count; i++) Collect(a, i, a[i], into);
    }

    private static void Set(JsonNode parent, object key, JsonNode? value)
    {
        if (parent is JsonObject o) o[(string)key] = value;
        else if (parent is JsonArray a) a[(int)key] = value;
    }

    private static JsonNode? SwapType(JsonNode? node, Rng rng) => (node?.GetValueKind(), rng.NextInt(5)) switch
    {
        (JsonValueKind.String, 0) => JsonValue.Create(7),
        (JsonValueKind.Number, 0) => JsonValue.Create("7"),
        (_, 1) => null,
        (_, 2) => new JsonArray(),
        (_, 3) => new JsonObject(),
        (JsonValueKind.True or JsonValueKind.False, _) => JsonValue.Create(1),
        _ => JsonValue.Create(rng.NextInt(2) == 0),
    };

    private static string DeepNesting(string json, Rng rng)
    {
        int depth = 100 + rng.NextInt(5000);
        int at = json.IndexOf(':');
        if (at < 0) return new string('[', depth) + json + new string(']', depth);
        var sb = new StringBuilder(json.Length + 2 * depth);
        sb.Append(json, 0, at + 1).Append('[', depth).Append('1').Append(']', depth).Append(',');
        sb.Append("\"zz\":").Append(json, at + 1, json.Length - at - 1);
        return sb.ToString();
    }

    private static byte[] MutateLine(byte[] data, Rng rng)
    {
        var lines = Encoding.UTF8.GetString(data).Split('\n').ToList();
        int i = rng.NextInt(lines.Count);
        var mutated = MutateJson(Encoding.UTF8.GetBytes(lines[i]), rng);
        var output = new List<byte>();
        for (int k = 0; k < lines.Count; k++)
        {
            if (k > 0) output.Add((byte)'\n');
            output.AddRange(k == i ? mutated.Where(b => b != (byte)'\n') : Encoding.UTF8.GetBytes(lines[k]));
        }
        return [.. output];
    }

    // ---- safetensors ----

    private static byte[] MutateSafeTensors(byte[] data, Rng rng)
    {
        if (data.Length < 8) return MutateBytes(data, rng);
        ulong n = BinaryPrimitives.ReadUInt64LittleEndian(data);
        if (n > (ulong)(data.Length - 8)) return MutateBytes(data, rng);
        var header = data.AsSpan(8, (int)n).ToArray();
        var body = data.AsSpan(8 + (int)n).ToArray();
        switch (rng.NextInt(4))
        {
            case 0: // the length prefix: off by a little, huge, tiny
                {
                    long[] deltas = [-1, 1, -8, 8, -(long)n, long.MaxValue / 2];
                    var d = (byte[])data.Clone();
                    BinaryPrimitives.WriteUInt64LittleEndian(d, unchecked((ulong)((long)n + deltas[rng.NextInt(deltas.Length)])));
                    return d;
                }
            case 1: // data bytes (e.g. floats becoming NaN/Inf)
                {
                    if (body.Length == 0) return MutateBytes(data, rng);
                    var b = (byte[])body.Clone();
                    int at = rng.NextInt(b.Length) & ~3;
                    if (at + 4 <= b.Length) BinaryPrimitives.WriteSingleLittleEndian(b.AsSpan(at), rng.NextInt(2) == 0 ? float.NaN : float.PositiveInfinity);
                    return Join(header, b);
                }
            default: // the header JSON, re-prefixed with its new length
                return Join(MutateJson(header, rng), body);
        }
    }

    // ---- GGUF ----

    // The header is counts, lengths, type tags and offsets (magic, version, tensor count and KV count, then per KV a
    // u64-length key, a u32 type and the value; per tensor a name, rank, dims, type and offset): overwrite one of its
    // 8-byte (or 4-byte) fields with an extreme value, or the version or a count.
    private static byte[] MutateGguf(byte[] data, Rng rng)
    {
        if (data.Length < 24) return MutateBytes(data, rng);
        var d = (byte[])data.Clone();
        ulong[] extreme = [0, 1, 0xFF, 0xFFFF_FFFF, 0x8000_0000, 0x7FFF_FFFF_FFFF_FFFF, ulong.MaxValue, 1UL << 40, 12, 13, 30];
        ulong value = extreme[rng.NextInt(extreme.Length)];
        switch (rng.NextInt(4))
        {
            case 0: // version, tensor count or KV count
                {
                    int[] fields = [4, 8, 16];
                    int at = fields[rng.NextInt(fields.Length)];
                    if (at == 4) BinaryPrimitives.WriteUInt32LittleEndian(d.AsSpan(4), (uint)value);
                    else BinaryPrimitives.WriteUInt64LittleEndian(d.AsSpan(at), value);
                    return d;
                }
            case 1: // any 8-byte field of the header region (lengths, dims, offsets)
                {
                    int region = Math.Min(d.Length - 8, 1 << 16);
                    BinaryPrimitives.WriteUInt64LittleEndian(d.AsSpan(24 + rng.NextInt(Math.Max(1, region - 24))), value);
                    return d;
                }
            case 2: // any 4-byte field (type tags, ranks, ggml types)
                {
                    int region = Math.Min(d.Length - 4, 1 << 16);
                    BinaryPrimitives.WriteUInt32LittleEndian(d.AsSpan(24 + rng.NextInt(Math.Max(1, region - 24))), (uint)value);
                    return d;
                }
            default: // truncate inside the header or the data
                return d[..(24 + rng.NextInt(d.Length - 24))];
        }
    }

    private static byte[] Join(byte[] header, byte[] body)
    {
        var d = new byte[8 + header.Length + body.Length];
        BinaryPrimitives.WriteUInt64LittleEndian(d, (ulong)header.Length);
        header.CopyTo(d, 8);
        body.CopyTo(d, 8 + header.Length);
        return d;
    }
}
