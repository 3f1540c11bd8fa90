using PureLlama.Llama;
using PureLlama.Tensors;

namespace PureLlama.Serving;

/// <summary>
/// The engine's block pool on the model's device: per layer K and V [blocks, kvHeads, blockSize, headDim]
/// (F32, BF16 or I8) and, for INT8, scales [blocks, kvHeads, blockSize] F32. As many blocks as
/// <see cref="ServingOptions.KvMemoryBytes"/> holds. Which block belongs to whom is the <see cref="BlockPool"/>'s business.
/// </summary>
internal sealed class PagedKvCache : IDisposable
{
    private readonly Tensor[] _k, _v;
    private readonly Tensor[]? _ks, _vs;

    public PagedKvCache(LlamaModel model, ServingOptions options)
    {
        var c = model.Config;
        int layers = c.NumHiddenLayers, kvh = c.NumKeyValueHeads, d = c.HeadDim, bs = options.BlockSize;
        var dtype = options.KvCacheType switch { KvCacheType.F32 => DType.F32, KvCacheType.BF16 => DType.BF16, _ => DType.I8 };
        bool int8 = dtype == DType.I8;
        BytesPerBlock = 2L * layers * bs * kvh * (d * dtype.SizeOf() + (int8 ? sizeof(float) : 0));
        long blocks = options.KvMemoryBytes / BytesPerBlock;
        if (blocks < 1)
            throw new ArgumentException($"KvMemoryBytes ({options.KvMemoryBytes}) is less than one KV block ({BytesPerBlock} bytes: {layers} layers × K and V × {bs} positions × {kvh} heads × {d}).", nameof(options.KvMemoryBytes));
        Blocks = (int)Math.Min(blocks, int.MaxValue / Math.Max(1, bs));
        BlockSize = bs;
        DType = dtype;
        _k = new Tensor[layers]; _v = new Tensor[layers];
        if (int8) { _ks = new Tensor[layers]; _vs = new Tensor[layers]; }
        try
        {
            for (int l = 0; l < layers; l++)
            {
                _k[l] = Tensor.Empty(new Shape(Blocks, kvh, bs, d), dtype, model.Device);
                _v[l] = Tensor.Empty(new Shape(Blocks, kvh, bs, d), dtype, model.Device);
                if (int8)
                {
                    _ks![l] = Tensor.Empty(new Shape(Blocks, kvh, bs), DType.F32, model.Device);
                    _vs![l] = Tensor.Empty(new Shape(Blocks, kvh, bs), DType.F32, model.Device);
                }
            }
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    public int Blocks { get; }
    public int BlockSize { get; }
    public DType DType { get; }
    /// <summary>Bytes of one block over all layers, K and V, scales included.</summary>
    public long BytesPerBlock { get; }
    public long TotalBytes => BytesPerBlock * Blocks;

    /// <summary>A step over this pool with the given layout.</summary>
    public PagedStep Step(Compute.PagedLayout layout) => new(layout, _k, _v, _ks, _vs);

    public void Dispose()
    {
        foreach (var t in _k) t?.Dispose();
        foreach (var t in _v) t?.Dispose();
        if (_ks is not null) foreach (var t in _ks) t?.Dispose();
        if (_vs is not null) foreach (var t in _vs) t?.Dispose();
    }
}
