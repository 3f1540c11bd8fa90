using System.Buffers;
using System.Text;
using System.Text.RegularExpressions;

namespace PureLlama.Tokenization;

/// <summary>
/// The Llama 3 tokenizer: byte-level BPE read from a Hugging Face <c>tokenizer.json</c>.
/// Encoding: added/special tokens are matched in the text first (exact match), the rest is split
/// by the Llama 3 pre-tokenizer, each piece is mapped to its UTF-8 bytes and encoded by BPE
/// (a piece that is itself in the vocabulary is one token when <c>ignore_merges</c> is set).
/// Decoding concatenates the bytes of the tokens and reads them as UTF-8. Thread-safe.
/// </summary>
public sealed class Llama3Tokenizer
{
    private readonly BytePairEncoder _bpe;
    private readonly Regex? _customSplit;
    private readonly byte[]?[] _idToBytes;      // raw bytes of each id (added tokens: their UTF-8 text)
    private readonly string?[] _idToToken;      // vocabulary form of each id ("Ġworld"), added tokens as their content
    private readonly bool[] _isSpecial;
    private readonly Dictionary<string, int> _vocab;       // BPE vocabulary (byte-level form)
    private readonly Dictionary<string, int> _addedToId;   // added tokens by content
    private readonly AddedTokenMatcher _allAdded;
    private readonly AddedTokenMatcher _nonSpecialAdded;

    private Llama3Tokenizer(TokenizerData data, string source)
    {
        Source = source;
        _bpe = new BytePairEncoder(data.Vocab, data.Merges, ByteIds(data.Vocab), data.IgnoreMerges);
        _customSplit = data.CustomSplit;
        IgnoreMerges = data.IgnoreMerges;
        MergeCount = data.MergeCount;
        AddedTokens = data.AddedTokens.AsReadOnly();

        int size = Math.Max(data.Vocab.Values.Max(), data.AddedTokens.Count == 0 ? 0 : data.AddedTokens.Max(t => t.Id)) + 1;
        VocabSize = size;
        _idToBytes = new byte[size][];
        _idToToken = new string[size];
        _isSpecial = new bool[size];
        _vocab = data.Vocab;
        _addedToId = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var (token, id) in data.Vocab)
        {
            _idToToken[id] = token;
            _idToBytes[id] = ByteLevel.Decode(token)
                ?? throw TokenizerFiles.Bad(source, $"model.vocab token \"{token}\" (id {id}) has characters outside the byte-level alphabet");
        }
        foreach (var t in data.AddedTokens)
        {
            _idToToken[t.Id] = t.Content;
            _idToBytes[t.Id] = Encoding.UTF8.GetBytes(t.Content);
            _isSpecial[t.Id] = t.Special;
            _addedToId[t.Content] = t.Id;
        }
        _allAdded = new AddedTokenMatcher(data.AddedTokens);
        _nonSpecialAdded = new AddedTokenMatcher(data.AddedTokens.Where(t => !t.Special));

        BosToken = data.BosToken ?? (TokenToId("<|begin_of_text|>") is null ? null : "<|begin_of_text|>");
        EosToken = data.EosToken ?? (TokenToId("<|end_of_text|>") is null ? null : "<|end_of_text|>");
        BosId = BosToken is null ? null : TokenToId(BosToken);
        EosId = EosToken is null ? null : TokenToId(EosToken);
        var stops = new List<int>();
        foreach (string? s in new[] { EosToken, "<|eot_id|>", "<|end_of_text|>", "<|eom_id|>" })
            if (s is not null && TokenToId(s) is int id && !stops.Contains(id)) stops.Add(id);
        StopTokenIds = stops.AsReadOnly();
        ChatTemplate = new ChatTemplate(this, data.ChatTemplate);
    }

    /// <summary>
    /// Loads a tokenizer from a model folder (reading <c>tokenizer.json</c> and, when present,
    /// <c>tokenizer_config.json</c>) or from the path of a <c>tokenizer.json</c> file (reading the
    /// config beside it when present).
    /// </summary>
    /// <exception cref="FileNotFoundException">No tokenizer.json at <paramref name="path"/>.</exception>
    /// <exception cref="InvalidDataException">A file is malformed or describes an unsupported tokenizer; the message names the file.</exception>
    public static Llama3Tokenizer Load(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        string file = Directory.Exists(path) ? Path.Combine(path, "tokenizer.json") : path;
        if (!File.Exists(file)) throw new FileNotFoundException($"tokenizer file not found: {file}", file);
        string config = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(file))!, "tokenizer_config.json");
        var data = TokenizerFiles.ReadTokenizerJson(File.ReadAllBytes(file), file);
        if (File.Exists(config)) TokenizerFiles.ReadConfig(File.ReadAllBytes(config), config, data);
        return new Llama3Tokenizer(data, file);
    }

    /// <summary>Builds a tokenizer from the UTF-8 text of a <c>tokenizer.json</c> and optionally of a <c>tokenizer_config.json</c>.</summary>
    /// <param name="tokenizerJson">The content of tokenizer.json.</param>
    /// <param name="configJson">The content of tokenizer_config.json, or empty when there is none.</param>
    /// <param name="sourceName">The name used in error messages.</param>
    public static Llama3Tokenizer FromJson(ReadOnlyMemory<byte> tokenizerJson, ReadOnlyMemory<byte> configJson = default, string sourceName = "tokenizer.json")
    {
        var data = TokenizerFiles.ReadTokenizerJson(tokenizerJson, sourceName);
        if (!configJson.IsEmpty) TokenizerFiles.ReadConfig(configJson, $"{sourceName} (tokenizer_config.json)", data);
        return new Llama3Tokenizer(data, sourceName);
    }

    internal BytePairEncoder Bpe => _bpe;

    /// <summary>The file (or name) this tokenizer was loaded from.</summary>
    public string Source { get; }
    /// <summary>One more than the largest token id (128256 for Llama 3).</summary>
    public int VocabSize { get; }
    /// <summary>The number of BPE merges.</summary>
    public int MergeCount { get; }
    /// <summary>Whether a pre-token that is itself in the vocabulary is emitted as one token without applying merges.</summary>
    public bool IgnoreMerges { get; }
    /// <summary>The added tokens, special or not, in file order.</summary>
    public IReadOnlyList<AddedToken> AddedTokens { get; }
    /// <summary>The beginning-of-text token from tokenizer_config.json (default <c>&lt;|begin_of_text|&gt;</c>).</summary>
    public string? BosToken { get; }
    /// <summary>The end-of-text token from tokenizer_config.json (default <c>&lt;|end_of_text|&gt;</c>).</summary>
    public string? EosToken { get; }
    /// <summary>The id of <see cref="BosToken"/>, if it is a token.</summary>
    public int? BosId { get; }
    /// <summary>The id of <see cref="EosToken"/>, if it is a token.</summary>
    public int? EosId { get; }
    /// <summary>Ids that end a generated turn: the EOS token, <c>&lt;|eot_id|&gt;</c>, <c>&lt;|end_of_text|&gt;</c> and <c>&lt;|eom_id|&gt;</c> where present.</summary>
    public IReadOnlyList<int> StopTokenIds { get; }
    /// <summary>The chat template (Llama 3 instruct format) and what tokenizer_config.json said about it.</summary>
    public ChatTemplate ChatTemplate { get; }

    /// <summary>Encodes text to token ids.</summary>
    /// <param name="text">The text.</param>
    /// <param name="addBos">Prepend the BOS token (the text itself never gets one implicitly).</param>
    /// <param name="parseSpecial">Match special tokens written in the text (<c>&lt;|eot_id|&gt;</c> → 128009); when false they are plain text.</param>
    public int[] Encode(string text, bool addBos = false, bool parseSpecial = true)
    {
        ArgumentNullException.ThrowIfNull(text);
        var ids = new List<int>(text.Length / 3 + 4);
        if (addBos) ids.Add(BosId ?? throw new InvalidOperationException($"{Source}: no BOS token is defined"));
        Encode(text, ids, parseSpecial);
        return ids.ToArray();
    }

    /// <summary>Encodes text and appends the ids to <paramref name="output"/>.</summary>
    public void Encode(ReadOnlySpan<char> text, List<int> output, bool parseSpecial = true)
    {
        ArgumentNullException.ThrowIfNull(output);
        var matcher = parseSpecial ? _allAdded : _nonSpecialAdded;
        while (!text.IsEmpty)
        {
            int at = matcher.Find(text, out int id, out int length);
            if (at < 0) { EncodeOrdinary(text, output); return; }
            EncodeOrdinary(text[..at], output);
            output.Add(id);
            text = text[(at + length)..];
        }
    }

    /// <summary>Counts the tokens of <paramref name="text"/> without keeping them.</summary>
    public int CountTokens(string text, bool parseSpecial = true)
    {
        var ids = new List<int>();
        Encode(text, ids, parseSpecial);
        return ids.Count;
    }

    private void EncodeOrdinary(ReadOnlySpan<char> text, List<int> output)
    {
        if (text.IsEmpty) return;
        if (_customSplit is null)
        {
            for (int pos = 0; pos < text.Length;)
            {
                int len = Llama3PreTokenizer.NextLength(text, pos);
                _bpe.Encode(text.Slice(pos, len), output);
                pos += len;
            }
            return;
        }
        int last = 0;
        try
        {
            foreach (var m in _customSplit.EnumerateMatches(text))
            {
                if (m.Length == 0) continue;
                if (m.Index > last) _bpe.Encode(text[last..m.Index], output);
                _bpe.Encode(text.Slice(m.Index, m.Length), output);
                last = m.Index + m.Length;
            }
        }
        catch (RegexMatchTimeoutException e)
        {
            throw new InvalidDataException($"{Source}: the pre_tokenizer Split regex ran longer than {e.MatchTimeout.TotalSeconds:0.#} s on a {text.Length}-character text " +
                "(catastrophic backtracking, e.g. nested quantifiers like (a+)+); fix the regex in the file.", e);
        }
        if (last < text.Length) _bpe.Encode(text[last..], output);
    }

    /// <summary>Decodes ids to text (invalid UTF-8 becomes U+FFFD). Special tokens decode to their text unless <paramref name="skipSpecial"/>.</summary>
    /// <exception cref="ArgumentException">An id is not a token of this vocabulary.</exception>
    public string Decode(ReadOnlySpan<int> ids, bool skipSpecial = false)
    {
        var bytes = new ArrayBufferWriter<byte>(ids.Length * 4 + 16);
        foreach (int id in ids)
        {
            if (skipSpecial && IsSpecial(id)) continue;
            bytes.Write(TokenBytes(id));
        }
        return Encoding.UTF8.GetString(bytes.WrittenSpan);
    }

    /// <summary>The raw bytes of a token (a token may hold part of a UTF-8 character).</summary>
    /// <exception cref="ArgumentException"><paramref name="id"/> is not a token of this vocabulary.</exception>
    public ReadOnlySpan<byte> TokenBytes(int id) =>
        (uint)id < (uint)_idToBytes.Length && _idToBytes[id] is { } b ? b : throw UnknownId(id);

    /// <summary>The vocabulary form of a token (byte-level characters, e.g. <c>Ġworld</c>; added tokens as their text).</summary>
    /// <exception cref="ArgumentException"><paramref name="id"/> is not a token of this vocabulary.</exception>
    public string IdToToken(int id) =>
        (uint)id < (uint)_idToToken.Length && _idToToken[id] is { } t ? t : throw UnknownId(id);

    internal string? IdToTokenOrNull(int id) => (uint)id < (uint)_idToToken.Length ? _idToToken[id] : null;

    /// <summary>The id of a token given in vocabulary form or as an added token's text, or null.</summary>
    public int? TokenToId(string token) =>
        _addedToId.TryGetValue(token, out int id) || _vocab.TryGetValue(token, out id) ? id : null;

    /// <summary>Whether <paramref name="id"/> is a special (control) token.</summary>
    public bool IsSpecial(int id) => (uint)id < (uint)_isSpecial.Length && _isSpecial[id];

    /// <summary>A decoder that takes ids one at a time and returns only complete characters.</summary>
    public TokenStreamDecoder CreateStreamDecoder(bool skipSpecial = false) => new(this, skipSpecial);

    private ArgumentException UnknownId(int id) =>
        new($"token id {id} is not in the vocabulary of {Source} (vocabulary size {VocabSize})", "id");

    private static int[] ByteIds(Dictionary<string, int> vocab)
    {
        var ids = new int[256];
        for (int b = 0; b < 256; b++) ids[b] = vocab[ByteLevel.ByteToChar((byte)b).ToString()];
        return ids;
    }
}
