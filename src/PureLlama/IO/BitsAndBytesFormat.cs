using System.Globalization;
using System.Text;
using System.Text.Json;
using PureLlama.Tensors;

namespace PureLlama.IO;

/// <summary>
/// Quantized linear weights in safetensors under the names bitsandbytes (and so transformers / QLoRA)
/// serializes them with, for a linear module <c>P</c> (e.g. <c>model.layers.0.self_attn.q_proj</c>):
/// <list type="table">
/// <item><term>NF4</term><description>
/// <c>P.weight</c> U8 [⌈n/2⌉, 1] packed codes; <c>P.weight.absmax</c> F32 [blocks] (or U8 codes when double-quantized);
/// <c>P.weight.quant_map</c> F32 [16]; <c>P.weight.nested_absmax</c> F32 [⌈blocks/256⌉] and <c>P.weight.nested_quant_map</c> F32 [256]
/// (double quantization only); <c>P.weight.quant_state.bitsandbytes__nf4</c> U8 [bytes]: UTF-8 JSON with quant_type, blocksize,
/// dtype, shape [out, in] and, when nested, nested_blocksize, nested_offset, nested_dtype.</description></item>
/// <item><term>INT8</term><description><c>P.weight</c> I8 [out, in], <c>P.SCB</c> F32 [out] row absmaxes, <c>P.weight_format</c> U8 scalar 0 (row-major).</description></item>
/// </list>
/// Reading checks every component (dtype, shape, finite scales, the JSON fields) and names the tensor and file on error.
/// </summary>
internal static class BitsAndBytesFormat
{
    /// <summary>Suffix of the NF4 quant_state tensor after the module name.</summary>
    public const string Nf4StateSuffix = ".weight.quant_state.bitsandbytes__nf4";

    /// <summary>Suffix of bitsandbytes' FP4 quant_state (recognised only to refuse it clearly).</summary>
    public const string Fp4StateSuffix = ".weight.quant_state.bitsandbytes__fp4";

    /// <summary>
    /// The tensors to write for module <paramref name="module"/>: new handles (views of the components, plus the
    /// quant_state JSON) that the caller disposes; <paramref name="weight"/> stays the caller's.
    /// <paramref name="originalDType"/> is recorded as the dtype the weight had before quantization.
    /// </summary>
    public static List<(string Name, Tensor Tensor)> Serialize(string module, QuantizedTensor weight, DType originalDType = DType.BF16)
    {
        ArgumentException.ThrowIfNullOrEmpty(module);
        ArgumentNullException.ThrowIfNull(weight);
        var list = new List<(string, Tensor)>();
        static Tensor View(Tensor t, Shape s) => t.ViewWith(s, s.ContiguousStrides(), t.Offset);
        switch (weight)
        {
            case Nf4Tensor q:
                list.Add((module + ".weight", View(q.Packed, new Shape((int)q.Packed.Numel, 1))));
                list.Add((module + ".weight.absmax", View(q.Absmax, q.Absmax.Shape)));
                list.Add((module + ".weight.quant_map", View(q.QuantMap, q.QuantMap.Shape)));
                if (q.DoubleQuantized)
                {
                    list.Add((module + ".weight.nested_absmax", View(q.NestedAbsmax!, q.NestedAbsmax!.Shape)));
                    list.Add((module + ".weight.nested_quant_map", View(q.NestedQuantMap!, q.NestedQuantMap!.Shape)));
                }
                byte[] json = Encoding.UTF8.GetBytes(QuantStateJson(q, originalDType));
                list.Add((module + Nf4StateSuffix, Tensor.FromArray(json, new Shape(json.Length))));
                break;
            case Int8Tensor q:
                list.Add((module + ".weight", View(q.Values, q.Values.Shape)));
                list.Add((module + ".SCB", View(q.RowAbsmax, q.RowAbsmax.Shape)));
                list.Add((module + ".weight_format", Tensor.FromArray(new byte[] { 0 }, new Shape())));
                break;
            default:
                throw new ArgumentException($"No bitsandbytes serialization for {weight.Describe()}.", nameof(weight));
        }
        return list;
    }

    // json.dumps of bitsandbytes' non-tensor quant_state entries (same keys and order).
    private static string QuantStateJson(Nf4Tensor q, DType originalDType)
    {
        var sb = new StringBuilder();
        sb.Append(CultureInfo.InvariantCulture, $"{{\"quant_type\": \"nf4\", \"blocksize\": {q.BlockSize}, \"dtype\": \"{originalDType.TorchName()}\", ");
        sb.Append(CultureInfo.InvariantCulture, $"\"shape\": [{q.Rows}, {q.Columns}]");
        if (q.DoubleQuantized)
            sb.Append(CultureInfo.InvariantCulture, $", \"nested_blocksize\": {q.NestedBlockSize}, \"nested_dtype\": \"float32\", \"nested_offset\": {PythonFloat(q.NestedOffset)}");
        return sb.Append('}').ToString();
    }

    // Python's repr of a float always shows a decimal point or exponent (0.0, 0.0123).
    private static string PythonFloat(float v)
    {
        string s = v.ToString("R", CultureInfo.InvariantCulture);
        return s.Contains('.', StringComparison.Ordinal) || s.Contains('E', StringComparison.Ordinal) ? s : s + ".0";
    }

    /// <summary>The stored format of module <paramref name="module"/>: NF4, INT8, or null when it is stored dense (or absent).</summary>
    /// <exception cref="InvalidDataException">It is stored in a bitsandbytes format PureLlama does not read (FP4).</exception>
    public static QuantFormat? Detect(HfCheckpoint checkpoint, string module)
    {
        ArgumentNullException.ThrowIfNull(checkpoint);
        return Detect(Source.Of(checkpoint), module);
    }

    /// <summary>Reads and checks the quantized weight of <paramref name="module"/>, whose dequantized shape must be <paramref name="expected"/> [out, in].</summary>
    /// <exception cref="InvalidDataException">A component is missing, mis-typed, mis-shaped or inconsistent (the message names tensor and file).</exception>
    public static QuantizedTensor Read(HfCheckpoint checkpoint, string module, Shape expected)
    {
        ArgumentNullException.ThrowIfNull(checkpoint);
        return Read(Source.Of(checkpoint), module, expected);
    }

    /// <inheritdoc cref="Read(HfCheckpoint, string, Shape)"/>
    public static QuantizedTensor Read(SafeTensorsFile file, string module, Shape expected)
    {
        ArgumentNullException.ThrowIfNull(file);
        return Read(Source.Of(file), module, expected);
    }

    /// <summary>Every tensor name module <paramref name="module"/> may hold in <paramref name="format"/> (for validating a whole checkpoint).</summary>
    public static IEnumerable<string> ComponentNames(string module, QuantFormat format) => format switch
    {
        QuantFormat.Nf4 => [module + ".weight", module + ".weight.absmax", module + ".weight.quant_map", module + ".weight.nested_absmax",
            module + ".weight.nested_quant_map", module + Nf4StateSuffix],
        QuantFormat.Int8 => [module + ".weight", module + ".SCB", module + ".weight_format"],
        _ => throw new ArgumentOutOfRangeException(nameof(format), format, "Unknown format."),
    };

    private static QuantFormat? Detect(Source src, string module)
    {
        if (src.Contains(module + Nf4StateSuffix)) return QuantFormat.Nf4;
        if (src.Contains(module + Fp4StateSuffix))
            throw new InvalidDataException($"'{module}' is stored as bitsandbytes FP4 (tensor '{module + Fp4StateSuffix}' in '{src.FileOf(module + Fp4StateSuffix)}'); PureLlama reads NF4 and INT8 only.");
        if (src.Contains(module + ".SCB")) return QuantFormat.Int8;
        return null;
    }

    private static QuantizedTensor Read(Source src, string module, Shape expected)
    {
        ArgumentException.ThrowIfNullOrEmpty(module);
        if (expected.Rank != 2) throw new ArgumentException($"A quantized weight is [out, in], not {expected}.", nameof(expected));
        return Detect(src, module) switch
        {
            QuantFormat.Nf4 => ReadNf4(src, module, expected),
            QuantFormat.Int8 => ReadInt8(src, module, expected),
            _ => throw new InvalidDataException($"'{module}' is not stored quantized: neither '{module + Nf4StateSuffix}' nor '{module}.SCB' is in {src.Where}."),
        };
    }

    private static Nf4Tensor ReadNf4(Source src, string module, Shape expected)
    {
        string stateName = module + Nf4StateSuffix;
        var state = ParseState(src, stateName);
        InvalidDataException Bad(string tensor, string problem) => new($"Tensor '{tensor}' in '{src.FileOf(tensor)}' {problem}");
        string StateField(string f) => $"field '{f}' of the quant_state JSON";
        var root = state.RootElement;
        string quantType = GetString(root, "quant_type") ?? throw Bad(stateName, $"lacks {StateField("quant_type")}.");
        if (quantType != "nf4") throw Bad(stateName, $"has quant_type '{quantType}'; expected 'nf4'.");
        int blockSize = GetInt(root, "blocksize") ?? throw Bad(stateName, $"lacks an integer {StateField("blocksize")}.");
        if (blockSize <= 0 || blockSize % 2 != 0) throw Bad(stateName, $"has blocksize {blockSize}; expected a positive even number.");
        if (!root.TryGetProperty("shape", out var shapeEl) || shapeEl.ValueKind != JsonValueKind.Array || shapeEl.GetArrayLength() != 2
            || shapeEl.EnumerateArray().Any(e => e.ValueKind != JsonValueKind.Number || !e.TryGetInt32(out int d) || d < 0))
            throw Bad(stateName, $"lacks {StateField("shape")} as [out, in].");
        var shape = new Shape(shapeEl[0].GetInt32(), shapeEl[1].GetInt32());
        if (shape != expected) throw Bad(stateName, $"says shape {shape}; the model expects {expected} for '{module}'.");
        string? dtype = GetString(root, "dtype");
        if (dtype is not ("bfloat16" or "float16" or "float32"))
            throw Bad(stateName, $"has dtype '{dtype ?? "(missing)"}'; expected bfloat16, float16 or float32.");

        long n = shape.Numel, blocks = (n + blockSize - 1) / blockSize;
        bool nested = src.Contains(module + ".weight.nested_absmax") || root.TryGetProperty("nested_blocksize", out _);
        var owned = new List<Tensor>();
        try
        {
            Tensor Get(string suffix, DType dt, params int[] dims) => Component(src, module + suffix, dt, new Shape(dims), owned);
            var packedStored = Get(".weight", DType.U8, (int)((n + 1) / 2), 1);
            var packed = packedStored.ViewWith(new Shape((int)((n + 1) / 2)), [1], packedStored.Offset);
            owned.Add(packed);
            var quantMap = Get(".weight.quant_map", DType.F32, 16);
            RequireFinite(src, module + ".weight.quant_map", quantMap);
            var codes = quantMap.ToArray<float>();
            for (int i = 1; i < 16; i++)
                if (!(codes[i] > codes[i - 1])) throw Bad(module + ".weight.quant_map", $"is not ascending at index {i} ({codes[i - 1]}, {codes[i]}): not an NF4 code table.");
            if (!nested)
            {
                var absmax = Get(".weight.absmax", DType.F32, (int)blocks);
                RequireFinite(src, module + ".weight.absmax", absmax);
                var plain = new Nf4Tensor(shape, blockSize, packed, quantMap, absmax) { Name = module + ".weight" };
                DisposeAllBut(owned, packed, quantMap, absmax);
                return plain;
            }
            int nestedBlock = GetInt(root, "nested_blocksize") ?? throw Bad(stateName, $"lacks an integer {StateField("nested_blocksize")} but '{module}.weight.nested_absmax' is present.");
            if (nestedBlock <= 0) throw Bad(stateName, $"has nested_blocksize {nestedBlock}; expected a positive number.");
            if (!root.TryGetProperty("nested_offset", out var offEl) || offEl.ValueKind != JsonValueKind.Number || !offEl.TryGetDouble(out double offset) || !double.IsFinite(offset))
                throw Bad(stateName, $"lacks a finite {StateField("nested_offset")}.");
            string? nestedDType = GetString(root, "nested_dtype");
            if (nestedDType is not (null or "float32")) throw Bad(stateName, $"has nested_dtype '{nestedDType}'; expected float32.");
            var codesU8 = Get(".weight.absmax", DType.U8, (int)blocks);
            var nestedAbsmax = Get(".weight.nested_absmax", DType.F32, (int)((blocks + nestedBlock - 1) / nestedBlock));
            RequireFinite(src, module + ".weight.nested_absmax", nestedAbsmax);
            var nestedMap = Get(".weight.nested_quant_map", DType.F32, 256);
            RequireFinite(src, module + ".weight.nested_quant_map", nestedMap);
            var q = new Nf4Tensor(shape, blockSize, packed, quantMap, codesU8, nestedAbsmax, nestedMap, (float)offset, nestedBlock) { Name = module + ".weight" };
            DisposeAllBut(owned, packed, quantMap, codesU8, nestedAbsmax, nestedMap);
            return q;
        }
        catch
        {
            foreach (var t in owned) t.Dispose();
            throw;
        }
        finally { state.Dispose(); }
    }

    private static Int8Tensor ReadInt8(Source src, string module, Shape expected)
    {
        var owned = new List<Tensor>();
        try
        {
            var values = Component(src, module + ".weight", DType.I8, expected, owned);
            var scb = Component(src, module + ".SCB", DType.F32, new Shape(expected[0]), owned);
            RequireFinite(src, module + ".SCB", scb);
            string formatName = module + ".weight_format";
            if (src.Contains(formatName))
            {
                using var f = Component(src, formatName, DType.U8, new Shape(), null);
                byte code = f.ToArray<byte>()[0];
                if (code != 0)
                    throw new InvalidDataException($"Tensor '{formatName}' in '{src.FileOf(formatName)}' is {code} (bitsandbytes' tiled GPU layout); PureLlama reads the row-major layout (0).");
            }
            return new Int8Tensor(values, scb) { Name = module + ".weight" };
        }
        catch
        {
            foreach (var t in owned) t.Dispose();
            throw;
        }
    }

    // One component: present, of the dtype and shape, contiguous.
    private static Tensor Component(Source src, string name, DType dtype, Shape shape, List<Tensor>? owned)
    {
        if (!src.Contains(name)) throw new InvalidDataException($"Tensor '{name}' is missing from {src.Where}: the quantized weight is incomplete.");
        var info = src.Info(name);
        if (info.DType != dtype)
            throw new InvalidDataException($"Tensor '{name}' in '{src.FileOf(name)}' is {info.DTypeName}; {SafeTensorsDTypes.NameOf(dtype)} was expected.");
        if (info.Shape != shape)
            throw new InvalidDataException($"Tensor '{name}' in '{src.FileOf(name)}' has shape {info.Shape}; {shape} was expected.");
        var t = src.Get(name);
        owned?.Add(t);
        return t;
    }

    private static void RequireFinite(Source src, string name, Tensor t)
    {
        FiniteValues.Require(t.ToArray<float>(), $"Tensor '{name}' in '{src.FileOf(name)}'", "scales must be finite.");
    }

    private static JsonDocument ParseState(Source src, string name)
    {
        if (!src.Contains(name)) throw new InvalidDataException($"Tensor '{name}' is missing from {src.Where}.");
        var info = src.Info(name);
        if (info.DType != DType.U8 || info.Shape.Rank != 1)
            throw new InvalidDataException($"Tensor '{name}' in '{src.FileOf(name)}' is {info.DTypeName} {info.Shape}; a U8 vector of JSON bytes was expected.");
        using var t = src.Get(name);
        var doc = StrictJson.Parse(t.ToArray<byte>(), $"tensor '{name}' in {src.FileOf(name)}");
        if (doc.RootElement.ValueKind == JsonValueKind.Object) return doc;
        doc.Dispose();
        throw new InvalidDataException($"Tensor '{name}' in '{src.FileOf(name)}' holds JSON that is not an object.");
    }

    private static string? GetString(JsonElement o, string f) => o.TryGetProperty(f, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;

    private static int? GetInt(JsonElement o, string f) => o.TryGetProperty(f, out var v) && v.ValueKind == JsonValueKind.Number && v.TryGetInt32(out int i) ? i : null;

    // The quantized tensor now owns `kept`; release the other handles (the stored [m, 1] view of the packed codes).
    private static void DisposeAllBut(List<Tensor> owned, params Tensor[] kept)
    {
        foreach (var t in owned) if (Array.IndexOf(kept, t) < 0) t.Dispose();
        owned.Clear();
    }

    // Where tensors come from: a whole checkpoint or one file.
    private sealed record Source(Func<string, bool> Contains, Func<string, SafeTensorInfo> Info, Func<string, Tensor> Get, Func<string, string> FileOf, string Where)
    {
        public static Source Of(HfCheckpoint c) => new(c.Contains, c.Info, c.GetTensor, n => c.FileOf(n).Path, $"checkpoint '{c.Directory}'");
        public static Source Of(SafeTensorsFile f) => new(f.Contains, f.Info, f.GetTensor, _ => f.Path, $"file '{f.Path}'");
    }
}
