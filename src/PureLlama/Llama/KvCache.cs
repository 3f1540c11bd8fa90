using PureLlama.Tensors;

namespace PureLlama.Llama;

/// <summary>
/// The keys and values of one sequence, preallocated for <see cref="Capacity"/> positions:
/// per layer k, v: [nKvHeads, capacity, headDim] F32, or BF16 to halve the memory (post-RoPE keys;
/// attention widens BF16 inside its kernel). Positions [0, <see cref="Length"/>)
/// are filled; a forward over T new tokens writes rows [Length, Length + T) and attends to
/// [0, Length + T). GQA is served without duplicating heads. Owns its memory: dispose it.
/// </summary>
public sealed class KvCache : IDisposable
{
    private readonly Tensor[] _keys;   // per layer [nKvHeads, capacity, headDim]: a paged pool of one block (AttentionRules.PagedRow)
    private readonly Tensor[] _values; // per layer [nKvHeads, capacity, headDim]
    private bool _disposed;

    /// <summary>Allocates the cache (zeroed) on <paramref name="device"/>, storing F32 (default) or BF16.</summary>
    public KvCache(int layers, int kvHeads, int headDim, int capacity, Device device, DType dtype = DType.F32)
    {
        if (dtype is not (DType.F32 or DType.BF16)) throw new ArgumentException($"A KV cache stores F32 or BF16, not {dtype}.", nameof(dtype));
        DType = dtype;
        if (layers <= 0 || kvHeads <= 0 || headDim <= 0)
            throw new ArgumentException($"KV cache needs positive layers, KV heads and head dim (got {layers}, {kvHeads}, {headDim}).");
        if (capacity <= 0) throw new ArgumentOutOfRangeException(nameof(capacity), capacity, "KV cache capacity must be at least one position.");
        Layers = layers; KvHeads = kvHeads; HeadDim = headDim; Capacity = capacity; Device = device;
        _keys = new Tensor[layers];
        _values = new Tensor[layers];
        var shape = new Shape(kvHeads, capacity, headDim);
        try
        {
            for (int l = 0; l < layers; l++)
            {
                _keys[l] = Tensor.Empty(shape, dtype, device);
                _keys[l].Name = $"kv_cache.{l}.k";
                _values[l] = Tensor.Empty(shape, dtype, device);
                _values[l].Name = $"kv_cache.{l}.v";
            }
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    /// <summary>Decoder layers covered.</summary>
    public int Layers { get; }

    /// <summary>KV heads per layer.</summary>
    public int KvHeads { get; }

    /// <summary>Width of a head.</summary>
    public int HeadDim { get; }

    /// <summary>Positions the cache can hold.</summary>
    public int Capacity { get; }

    /// <summary>Element type of the stored keys and values.</summary>
    public DType DType { get; }

    /// <summary>Where the cache lives.</summary>
    public Device Device { get; }

    /// <summary>Positions filled so far (the position of the next token).</summary>
    public int Length { get; private set; }

    /// <summary>Positions still free.</summary>
    public int Remaining => Capacity - Length;

    /// <summary>Bytes held: 2 · layers · capacity · kvHeads · headDim · (4 for F32, 2 for BF16).</summary>
    public long ByteLength => 2L * Layers * Capacity * KvHeads * HeadDim * DType.SizeOf();

    /// <summary>Forgets every position (the memory is kept for reuse).</summary>
    public void Clear() => Length = 0;

    /// <summary>Keeps the first <paramref name="length"/> positions (e.g. to rewind a chat turn).</summary>
    public void Truncate(int length)
    {
        if (length < 0 || length > Length) throw new ArgumentOutOfRangeException(nameof(length), length, $"Cannot truncate a KV cache of length {Length} to {length}.");
        Length = length;
    }

    /// <summary>Throws unless <paramref name="tokens"/> more positions fit.</summary>
    public void EnsureRoom(int tokens)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (tokens > Remaining)
            throw new ContextLengthExceededException(
                $"{tokens} new token(s) do not fit in the KV cache: {Length} of {Capacity} positions are used. Start a new sequence or load with a longer context.");
    }

    /// <summary>The keys of a layer as a paged pool of one block of <see cref="Capacity"/> positions: [1, nKvHeads, capacity, headDim] (dispose it).</summary>
    internal Tensor KeyPool(int layer) => _keys[layer].Reshape(1, KvHeads, Capacity, HeadDim);

    /// <summary>The values of a layer as a paged pool of one block: [1, nKvHeads, capacity, headDim] (dispose it).</summary>
    internal Tensor ValuePool(int layer) => _values[layer].Reshape(1, KvHeads, Capacity, HeadDim);

    /// <summary>Marks <paramref name="tokens"/> more positions as filled (after every layer wrote them).</summary>
    internal void Advance(int tokens)
    {
        if (tokens < 0 || tokens > Remaining) throw new InvalidOperationException($"Cannot advance a KV cache at {Length}/{Capacity} by {tokens}.");
        Length += tokens;
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        foreach (var t in _keys) t?.Dispose();
        foreach (var t in _values) t?.Dispose();
    }
}

/// <summary>A prompt or generation does not fit in the context (KV cache capacity or the model's positions).</summary>
public sealed class ContextLengthExceededException : PureLlamaException
{
    /// <summary>Creates the error with a message naming the lengths involved.</summary>
    public ContextLengthExceededException(string message) : base(message) { }

    /// <summary>Creates the error naming the request field that overflowed (OpenAI's <c>param</c>: the prompt or the token limit).</summary>
    public ContextLengthExceededException(string message, string? param) : base(message) => Param = param;

    /// <summary>The request field that made the context overflow, when known.</summary>
    public string? Param { get; }
}
