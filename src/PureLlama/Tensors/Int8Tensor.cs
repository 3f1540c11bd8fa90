namespace PureLlama.Tensors;

/// <summary>
/// Symmetric row-wise INT8 weight [out, in] (bitsandbytes' LLM.int8 storage: <c>weight</c> I8 and
/// <c>SCB</c>): <see cref="Values"/> I8 [out, in] with q = round(127·w / absmax(row)) ∈ [−127, 127],
/// <see cref="RowAbsmax"/> F32 [out]; ŵ = q·absmax(row)/127. Bits per weight: 8 + 32/in.
/// </summary>
public sealed class Int8Tensor : QuantizedTensor
{
    private readonly Tensor[] _components;

    /// <summary>Assembles the components (ownership passes to this tensor) after checking their shapes.</summary>
    public Int8Tensor(Tensor values, Tensor rowAbsmax)
    {
        ArgumentNullException.ThrowIfNull(values);
        if (values.DType != DType.I8 || values.Rank != 2 || !values.IsContiguous)
            throw new ArgumentException($"INT8 values must be a contiguous I8 [out, in], got {values.Describe()}.", nameof(values));
        Require(rowAbsmax, "SCB (row absmax)", DType.F32, values.Shape[0], values.Device);
        Values = values; RowAbsmax = rowAbsmax;
        _components = [values, rowAbsmax];
    }

    /// <inheritdoc/>
    public override Shape Shape => Values.Shape;
    /// <inheritdoc/>
    public override QuantFormat Format => QuantFormat.Int8;
    /// <inheritdoc/>
    public override Device Device => Values.Device;
    /// <inheritdoc/>
    public override IReadOnlyList<Tensor> Components => _components;

    /// <summary>I8 [out, in].</summary>
    public Tensor Values { get; }
    /// <summary>F32 [out]: absmax of each row (bitsandbytes' SCB).</summary>
    public Tensor RowAbsmax { get; }

    /// <inheritdoc/>
    public override QuantizedTensor To(Device device) => new Int8Tensor(Values.To(device), RowAbsmax.To(device)) { Name = Name };
}
