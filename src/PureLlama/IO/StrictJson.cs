using System.Buffers;
using System.Text;
using System.Text.Json;

namespace PureLlama.IO;

/// <summary>
/// The one strict way PureLlama reads JSON a user may hand it: the bytes must be valid UTF-8, and every
/// string and property name must decode (System.Text.Json accepts a lone surrogate escape such as
/// <c>"\ud800"</c> or raw invalid UTF-8 inside a string and only fails later, in GetString, with an
/// InvalidOperationException naming nothing). Problems become <see cref="InvalidDataException"/>s naming
/// the source and the JSON path of the bad string.
/// </summary>
internal static class StrictJson
{
    /// <summary>Nesting accepted by default (System.Text.Json's own default).</summary>
    public const int DefaultMaxDepth = 64;

    private static readonly UTF8Encoding s_strictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    /// <summary>Reads a file as strict UTF-8 text (a leading BOM is dropped).</summary>
    /// <exception cref="InvalidDataException">The file is not valid UTF-8 (names the file and the byte offset).</exception>
    public static string ReadText(string path)
    {
        var bytes = File.ReadAllBytes(path);
        return DecodeUtf8(bytes, path);
    }

    /// <summary>
    /// The lines of a UTF-8 text file ("\n" or "\r\n" endings), streamed; a line that is not valid UTF-8 comes
    /// back as null so that the caller can report (or skip) it by its number.
    /// </summary>
    public static IEnumerable<string?> ReadLines(string path)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.SequentialScan);
        var line = new ArrayBufferWriter<byte>(4096);
        var chunk = new byte[1 << 16];
        bool first = true;
        int got;
        while ((got = stream.Read(chunk)) > 0)
        {
            int at = 0, nl;
            while ((nl = Array.IndexOf(chunk, (byte)'\n', at, got - at)) >= 0)
            {
                line.Write(chunk.AsSpan(at, nl - at));
                yield return LineText(line, ref first);
                at = nl + 1;
            }
            line.Write(chunk.AsSpan(at, got - at));
        }
        if (line.WrittenCount > 0) yield return LineText(line, ref first);
    }

    private static string? LineText(ArrayBufferWriter<byte> line, ref bool first)
    {
        var bytes = line.WrittenSpan;
        if (first && bytes.StartsWith("\uFEFF"u8)) bytes = bytes[3..];
        first = false;
        if (bytes.EndsWith("\r"u8)) bytes = bytes[..^1];
        string? text = System.Text.Unicode.Utf8.IsValid(bytes) ? Encoding.UTF8.GetString(bytes) : null;
        line.ResetWrittenCount();
        return text;
    }

    /// <summary>UTF-8 bytes to text, rejecting invalid sequences instead of replacing them.</summary>
    public static string DecodeUtf8(ReadOnlySpan<byte> bytes, string source)
    {
        if (bytes.StartsWith("\uFEFF"u8)) bytes = bytes[3..];
        try { return s_strictUtf8.GetString(bytes); }
        catch (DecoderFallbackException e)
        {
            throw new InvalidDataException($"'{source}' is not valid UTF-8 text (bad byte sequence at offset {e.Index}).", e);
        }
    }

    /// <summary>Parses JSON text strictly (see the class summary).</summary>
    public static JsonDocument Parse(string json, string source, JsonDocumentOptions options = default)
    {
        ArgumentNullException.ThrowIfNull(json);
        byte[] utf8;
        try { utf8 = s_strictUtf8.GetBytes(json); }
        catch (EncoderFallbackException e)
        {
            throw new InvalidDataException($"'{source}' is not valid JSON text: it holds a lone UTF-16 surrogate at character {e.Index}.", e);
        }
        return Parse(utf8, source, options);
    }

    /// <summary>Parses UTF-8 JSON strictly (see the class summary).</summary>
    public static JsonDocument Parse(ReadOnlyMemory<byte> utf8, string source, JsonDocumentOptions options = default)
    {
        var readerOptions = new JsonReaderOptions
        {
            AllowTrailingCommas = options.AllowTrailingCommas,
            CommentHandling = options.CommentHandling,
            MaxDepth = options.MaxDepth > 0 ? options.MaxDepth : DefaultMaxDepth,
        };
        Check(utf8.Span, source, readerOptions);
        try { return JsonDocument.Parse(utf8, options); }
        catch (JsonException e) { throw NotJson(source, e); }
    }

    /// <summary>Reads and parses a JSON file strictly.</summary>
    public static JsonDocument ParseFile(string path, JsonDocumentOptions options = default) =>
        Parse(File.ReadAllBytes(path), path, options);

    /// <summary>Reads a JSON file holding an object, strictly, as a mutable node (to edit and write back).</summary>
    public static System.Text.Json.Nodes.JsonObject ReadObject(string path)
    {
        var bytes = File.ReadAllBytes(path);
        Check(bytes, path, new JsonReaderOptions { MaxDepth = DefaultMaxDepth });
        System.Text.Json.Nodes.JsonNode? root;
        try { root = System.Text.Json.Nodes.JsonNode.Parse(bytes); }
        catch (JsonException e) { throw NotJson(path, e); }
        return root as System.Text.Json.Nodes.JsonObject ?? throw new InvalidDataException($"'{path}' must hold a JSON object.");
    }

    /// <summary>
    /// Walks the whole document once: well-formed JSON within the depth limit, valid UTF-8, and every
    /// string and property name decodable. Cheap (no allocation per string unless it is escaped).
    /// </summary>
    /// <exception cref="InvalidDataException">The first problem, naming the source and the JSON path.</exception>
    public static void Check(ReadOnlySpan<byte> utf8, string source, JsonReaderOptions options = default)
    {
        if (utf8.StartsWith("\uFEFF"u8)) utf8 = utf8[3..];
        if (!System.Text.Unicode.Utf8.IsValid(utf8))
            throw new InvalidDataException($"'{source}' is not valid UTF-8 JSON (bad byte sequence at offset {InvalidUtf8Offset(utf8)}).");
        var reader = new Utf8JsonReader(utf8, options);
        var path = new List<string>();   // property names and array indexes down to the current token
        var counters = new List<int>();  // per open container: next array index, or -1 for objects
        try
        {
            while (reader.Read())
            {
                switch (reader.TokenType)
                {
                    case JsonTokenType.StartObject:
                    case JsonTokenType.StartArray:
                        EnterValue(path, counters);
                        counters.Add(reader.TokenType == JsonTokenType.StartArray ? 0 : -1);
                        break;
                    case JsonTokenType.EndObject:
                    case JsonTokenType.EndArray:
                        counters.RemoveAt(counters.Count - 1);
                        LeaveValue(path, counters);
                        break;
                    case JsonTokenType.PropertyName:
                        path.Add(CheckedString(ref reader, source, path, isName: true));
                        break;
                    case JsonTokenType.String:
                        EnterValue(path, counters);
                        CheckedString(ref reader, source, path, isName: false);
                        LeaveValue(path, counters);
                        break;
                    case JsonTokenType.Comment:
                        break;
                    default:
                        EnterValue(path, counters);
                        LeaveValue(path, counters);
                        break;
                }
            }
        }
        catch (JsonException e) { throw NotJson(source, e); }
    }

    // Array elements get "[i]" pushed when they start; object members already have their name pushed.
    private static void EnterValue(List<string> path, List<int> counters)
    {
        if (counters.Count > 0 && counters[^1] >= 0) path.Add($"[{counters[^1]++}]");
    }

    private static void LeaveValue(List<string> path, List<int> counters)
    {
        if (counters.Count > 0) path.RemoveAt(path.Count - 1);
    }

    private static string CheckedString(ref Utf8JsonReader reader, string source, List<string> path, bool isName)
    {
        try
        {
            if (!isName && !reader.ValueIsEscaped) return "";
            return reader.GetString()!;
        }
        catch (InvalidOperationException e)
        {
            string where = JsonPath(path) + (isName ? " (a property name)" : "");
            throw new InvalidDataException($"'{source}' holds a string that is not valid Unicode at {where}: a lone surrogate escape or invalid UTF-8 ({e.Message}).", e);
        }
    }

    private static string JsonPath(List<string> path)
    {
        var sb = new StringBuilder("$");
        foreach (var p in path) sb.Append(p.StartsWith('[') ? p : "." + p);
        return sb.ToString();
    }

    private static int InvalidUtf8Offset(ReadOnlySpan<byte> utf8)
    {
        System.Text.Unicode.Utf8.ToUtf16(utf8, new char[utf8.Length], out int read, out _, replaceInvalidSequences: false);
        return read;
    }

    private static InvalidDataException NotJson(string source, JsonException e) =>
        new($"'{source}' is not valid JSON: {Problem(e, withLine: true)}", e);

    /// <summary>
    /// What the parser found wrong, in words: the message without System.Text.Json's "Path: … | LineNumber: … |
    /// BytePositionInLine: …" suffix, then "at line L, byte B" (1-based) when <paramref name="withLine"/>, else "at byte B".
    /// </summary>
    internal static string Problem(JsonException e, bool withLine)
    {
        string text = System.Text.RegularExpressions.Regex.Replace(e.Message, @"\s*(Path: \S*\s*\|\s*)?LineNumber: \d+\s*\|\s*BytePositionInLine: \d+\.?\s*$", "").TrimEnd('.', ' ');
        if (e.LineNumber is not long line) return text;
        long at = (e.BytePositionInLine ?? 0) + 1;
        return withLine ? $"{text} at line {line + 1}, byte {at}" : $"{text} at byte {at}";
    }
}
