using System.Text.Json;

namespace PureLlama.Tokenization;

/// <summary>
/// Streams the <c>model</c> object of <c>tokenizer.json</c> (type, ignore_merges, vocab, merges)
/// straight into lookup tables. Merges are resolved to ids through span lookups, without
/// allocating a string per merge; both the "a b" and the ["a", "b"] forms are accepted.
/// </summary>
internal sealed class TokenizerModelReader
{
    private readonly string _source;
    private Dictionary<string, int>? _vocab;
    private Dictionary<string, int>.AlternateLookup<ReadOnlySpan<char>> _lookup;
    private readonly Dictionary<long, long> _merges;
    private readonly int _vocabCapacity;
    private List<(string Left, string Right)>? _pending; // merges that came before the vocab
    private int _mergeCount;
    private bool _sawMerges;
    private string? _type;
    private bool _byteFallback;
    private char[] _buffer = new char[256];

    // Capacities are guessed from the file size (Llama 3: ~32 bytes per merge, ~70 per vocabulary entry)
    // so the two big tables are allocated once instead of growing through many rehashes.
    private TokenizerModelReader(string source, int fileLength)
    {
        _source = source;
        _merges = new Dictionary<long, long>(fileLength / 32);
        _vocabCapacity = fileLength / 70;
    }

    public bool IgnoreMerges { get; private set; }

    /// <summary>Reads the model object; <paramref name="r"/> is on its StartObject and is left on its EndObject.</summary>
    public static TokenizerModelReader Read(ref Utf8JsonReader r, string source, int fileLength)
    {
        var m = new TokenizerModelReader(source, fileLength);
        if (r.TokenType != JsonTokenType.StartObject) throw m.Bad("\"model\" is not an object");
        while (r.Read() && r.TokenType == JsonTokenType.PropertyName)
        {
            if (r.ValueTextEquals("vocab")) { r.Read(); m.ReadVocab(ref r); }
            else if (r.ValueTextEquals("merges")) { r.Read(); m.ReadMerges(ref r); }
            else if (r.ValueTextEquals("type")) { r.Read(); m._type = r.TokenType == JsonTokenType.String ? r.GetString() : null; }
            else if (r.ValueTextEquals("ignore_merges")) { r.Read(); m.IgnoreMerges = r.TokenType == JsonTokenType.True; }
            else if (r.ValueTextEquals("byte_fallback")) { r.Read(); m._byteFallback = r.TokenType == JsonTokenType.True; }
            else { r.Read(); r.Skip(); }
        }
        return m;
    }

    /// <summary>Validates what was read and returns the vocabulary and the merge table.</summary>
    public (Dictionary<string, int> Vocab, Dictionary<long, long> Merges, int MergeCount) Finish()
    {
        if (_type is not null && _type != "BPE") throw Bad($"model type is \"{_type}\"; only byte-level \"BPE\" is supported");
        if (_byteFallback) throw Bad("model.byte_fallback is true (a SentencePiece-style BPE); only byte-level BPE is supported");
        if (_vocab is null) throw Bad("model.vocab is missing");
        if (_vocab.Count == 0) throw Bad("model.vocab is empty");
        for (int b = 0; b < 256; b++)
            if (!_vocab.ContainsKey(ByteLevel.ByteToChar((byte)b).ToString()))
                throw Bad($"model.vocab lacks the byte-level token for byte 0x{b:X2} (not a byte-level BPE vocabulary)");
        if (!_sawMerges) throw Bad("model.merges is missing");
        if (_pending is not null)
        {
            int rank = 0;
            foreach (var (left, right) in _pending) AddMerge(left, right, rank++);
        }
        return (_vocab, _merges, _mergeCount);
    }

    private void ReadVocab(ref Utf8JsonReader r)
    {
        if (r.TokenType != JsonTokenType.StartObject) throw Bad("model.vocab is not an object");
        var vocab = new Dictionary<string, int>(_vocabCapacity, StringComparer.Ordinal);
        while (r.Read() && r.TokenType == JsonTokenType.PropertyName)
        {
            string token = r.GetString()!;
            r.Read();
            if (r.TokenType != JsonTokenType.Number || !r.TryGetInt32(out int id) || id < 0)
                throw Bad($"model.vocab entry \"{token}\" has no valid id");
            if (!vocab.TryAdd(token, id)) throw Bad($"model.vocab has \"{token}\" twice");
        }
        _vocab = vocab;
        _lookup = vocab.GetAlternateLookup<ReadOnlySpan<char>>();
    }

    private void ReadMerges(ref Utf8JsonReader r)
    {
        if (r.TokenType != JsonTokenType.StartArray) throw Bad("model.merges is not an array");
        _sawMerges = true;
        int rank = 0;
        while (r.Read() && r.TokenType != JsonTokenType.EndArray)
        {
            int leftLength, rightStart, end;
            if (r.TokenType == JsonTokenType.String)
            {
                end = CopyString(ref r, 0);
                var text = _buffer.AsSpan(0, end);
                leftLength = text.IndexOf(' ');
                rightStart = leftLength + 1;
                if (leftLength <= 0 || rightStart == end || text[rightStart..].Contains(' '))
                    throw Bad($"model.merges[{rank}] \"{text}\" is not two tokens separated by one space");
            }
            else if (r.TokenType == JsonTokenType.StartArray)
            {
                if (!r.Read() || r.TokenType != JsonTokenType.String) throw NotAPair(rank);
                leftLength = rightStart = CopyString(ref r, 0);
                if (!r.Read() || r.TokenType != JsonTokenType.String) throw NotAPair(rank);
                end = CopyString(ref r, rightStart);
                if (!r.Read() || r.TokenType != JsonTokenType.EndArray) throw NotAPair(rank);
            }
            else throw NotAPair(rank);

            var left = _buffer.AsSpan(0, leftLength);
            var right = _buffer.AsSpan(rightStart, end - rightStart);
            if (_vocab is null) (_pending ??= []).Add((new string(left), new string(right)));
            else AddMerge(left, right, rank);
            rank++;
        }
        _mergeCount = rank;
    }

    // Copies the current string value into _buffer at offset; returns the end offset.
    private int CopyString(ref Utf8JsonReader r, int offset)
    {
        int need = offset + r.ValueSpan.Length; // unescaped UTF-16 length never exceeds the UTF-8 byte length
        if (_buffer.Length < need) Array.Resize(ref _buffer, Math.Max(need, _buffer.Length * 2));
        return offset + r.CopyString(_buffer.AsSpan(offset));
    }

    private void AddMerge(ReadOnlySpan<char> left, ReadOnlySpan<char> right, int rank)
    {
        if (!_lookup.TryGetValue(left, out int a)) throw Bad($"model.merges[{rank}]: \"{left}\" is not in the vocab");
        if (!_lookup.TryGetValue(right, out int b)) throw Bad($"model.merges[{rank}]: \"{right}\" is not in the vocab");
        Span<char> joined = left.Length + right.Length <= 256 ? stackalloc char[256] : new char[left.Length + right.Length];
        left.CopyTo(joined);
        right.CopyTo(joined[left.Length..]);
        joined = joined[..(left.Length + right.Length)];
        if (!_lookup.TryGetValue(joined, out int merged))
            throw Bad($"model.merges[{rank}]: the merged token \"{joined}\" is not in the vocab");
        _merges[(long)a << 32 | (uint)b] = (long)rank << 32 | (uint)merged; // a repeated pair keeps its last rank, as in Hugging Face
    }

    private InvalidDataException NotAPair(int rank) => Bad($"model.merges[{rank}] is neither \"a b\" nor [\"a\", \"b\"]");

    private InvalidDataException Bad(string what) => TokenizerFiles.Bad(_source, what);
}
