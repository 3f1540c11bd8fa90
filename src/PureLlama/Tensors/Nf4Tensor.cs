namespace PureLlama.Tensors;

/// <summary>
/// NF4 weight [out, in], bit-compatible with bitsandbytes (QLoRA). The matrix is flattened row-major
/// (element e = r·in + c) and cut into blocks of <see cref="BlockSize"/> (64) consecutive elements,
/// crossing row ends when in is not a multiple of the block.
/// <list type="bullet">
/// <item><see cref="Packed"/> U8 [⌈n/2⌉]: byte i holds element 2i in its high nibble, 2i+1 in its low nibble (0 padding).</item>
/// <item><see cref="QuantMap"/> F32 [16]: the NF4 code values; ŵ = QuantMap[code]·absmax(block).</item>
/// <item><see cref="Absmax"/>: F32 [blocks] plain, or U8 [blocks] codes when double-quantized:
/// absmax(b) = NestedQuantMap[Absmax[b]]·NestedAbsmax[b / NestedBlockSize] + NestedOffset.</item>
/// <item><see cref="NestedAbsmax"/> F32 [⌈blocks/256⌉], <see cref="NestedQuantMap"/> F32 [256] (bitsandbytes' signed dynamic map),
/// <see cref="NestedOffset"/> = mean of the absmaxes (null/0 without double quantization).</item>
/// </list>
/// Bits per weight: 4 + 32/64 = 4.5 plain; 4 + 8/64 + 32/(64·256) ≈ 4.127 double-quantized.
/// </summary>
public sealed class Nf4Tensor : QuantizedTensor
{
    /// <summary>Assembles the components (ownership passes to this tensor) after checking their shapes.</summary>
    public Nf4Tensor(Shape shape, int blockSize, Tensor packed, Tensor quantMap, Tensor absmax,
        Tensor? nestedAbsmax = null, Tensor? nestedQuantMap = null, float nestedOffset = 0f, int nestedBlockSize = 256)
    {
        if (shape.Rank != 2 || shape[0] <= 0 || shape[1] <= 0) throw new ArgumentException($"An NF4 weight is [out, in] with both > 0, got {shape}.", nameof(shape));
        if (blockSize <= 0 || blockSize % 2 != 0) throw new ArgumentException($"NF4 block size must be a positive even number, got {blockSize}.", nameof(blockSize));
        ArgumentNullException.ThrowIfNull(packed);
        _shape = shape;
        BlockSize = blockSize;
        long n = shape.Numel;
        var device = packed.Device;
        Require(packed, "packed", DType.U8, (n + 1) / 2, device);
        Require(quantMap, "quant_map", DType.F32, 16, device);
        long blocks = (n + blockSize - 1) / blockSize;
        if (nestedAbsmax is null)
        {
            if (nestedQuantMap is not null) throw new ArgumentException("nested_quant_map without nested_absmax.", nameof(nestedQuantMap));
            Require(absmax, "absmax", DType.F32, blocks, device);
        }
        else
        {
            if (nestedBlockSize <= 0) throw new ArgumentException($"Nested block size must be positive, got {nestedBlockSize}.", nameof(nestedBlockSize));
            Require(absmax, "absmax", DType.U8, blocks, device);
            Require(nestedAbsmax, "nested_absmax", DType.F32, (blocks + nestedBlockSize - 1) / nestedBlockSize, device);
            Require(nestedQuantMap ?? throw new ArgumentException("nested_absmax without nested_quant_map.", nameof(nestedQuantMap)),
                "nested_quant_map", DType.F32, 256, device);
        }
        Packed = packed; QuantMap = quantMap; Absmax = absmax;
        NestedAbsmax = nestedAbsmax; NestedQuantMap = nestedQuantMap; NestedOffset = nestedOffset; NestedBlockSize = nestedBlockSize;
        _components = nestedAbsmax is null ? [packed, quantMap, absmax] : [packed, quantMap, absmax, nestedAbsmax, nestedQuantMap!];
    }

    private readonly Shape _shape;
    private readonly Tensor[] _components;

    /// <inheritdoc/>
    public override Shape Shape => _shape;
    /// <inheritdoc/>
    public override QuantFormat Format => QuantFormat.Nf4;
    /// <inheritdoc/>
    public override Device Device => Packed.Device;
    /// <inheritdoc/>
    public override IReadOnlyList<Tensor> Components => _components;

    /// <summary>Elements per absmax block (64 by default).</summary>
    public int BlockSize { get; }
    /// <summary>Number of absmax blocks, ⌈n / BlockSize⌉.</summary>
    public long Blocks => (Shape.Numel + BlockSize - 1) / BlockSize;
    /// <summary>True when the absmaxes are stored as 8-bit codes (double quantization).</summary>
    public bool DoubleQuantized => NestedAbsmax is not null;

    /// <summary>U8 [⌈n/2⌉] two 4-bit codes per byte, first element in the high nibble.</summary>
    public Tensor Packed { get; }
    /// <summary>F32 [16] code values.</summary>
    public Tensor QuantMap { get; }
    /// <summary>F32 [blocks] absmaxes, or U8 [blocks] codes into <see cref="NestedQuantMap"/> when double-quantized.</summary>
    public Tensor Absmax { get; }
    /// <summary>F32 [⌈blocks/NestedBlockSize⌉] scale of each block of absmax codes (double quantization).</summary>
    public Tensor? NestedAbsmax { get; }
    /// <summary>F32 [256] dynamic map of the absmax codes (double quantization).</summary>
    public Tensor? NestedQuantMap { get; }
    /// <summary>Mean absmax subtracted before double quantization (added back when dequantizing).</summary>
    public float NestedOffset { get; }
    /// <summary>Absmax codes per nested scale (256).</summary>
    public int NestedBlockSize { get; }

    /// <inheritdoc/>
    public override QuantizedTensor To(Device device) =>
        new Nf4Tensor(Shape, BlockSize, Packed.To(device), QuantMap.To(device), Absmax.To(device),
            NestedAbsmax?.To(device), NestedQuantMap?.To(device), NestedOffset, NestedBlockSize) { Name = Name };
}
