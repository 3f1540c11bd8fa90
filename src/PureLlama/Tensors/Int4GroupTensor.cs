namespace PureLlama.Tensors;

/// <summary>
/// 4-bit weight [out, in] with group-wise scales and zero points, in the GPTQ layout of AutoGPTQ /
/// GPTQModel (the layout Hugging Face GPTQ checkpoints use); AWQ checkpoints are repacked into it on
/// load (<see cref="Quantization.Int4Packing.FromAwq"/>).
/// <list type="bullet">
/// <item><see cref="QWeight"/> I32 [in/8, out]: qweight[p, o] = Σₖ q[8p+k, o] &lt;&lt; 4k (k = 0…7, input 8p in the low nibble).</item>
/// <item><see cref="QZeros"/> I32 [groups, out/8]: qzeros[g, j] = Σₖ z[g, 8j+k] &lt;&lt; 4k. Stored as the true zero point
/// (GPTQModel's internal "v2" form); AutoGPTQ "v1" checkpoints store z − 1 and are converted on load
/// (<see cref="Quantization.Int4Packing.ZerosFromV1"/>).</item>
/// <item><see cref="Scales"/> F16 [groups, out].</item>
/// <item><see cref="GIdx"/> I32 [in]: the group of each input column (i / groupSize, or a permuted assignment with act-order).</item>
/// </list>
/// ŵ[o, i] = scales[g, o]·(q[i, o] − z[g, o]) with g = g_idx[i]. Requires in and out to be multiples of 8.
/// Bits per weight: 4 + (16 + 4)/groupSize + 32/out (g_idx) — 4.16 at group 128.
/// </summary>
public sealed class Int4GroupTensor : QuantizedTensor
{
    private readonly Shape _shape;
    private readonly Tensor[] _components;

    /// <summary>Assembles the components (ownership passes to this tensor) after checking their shapes.</summary>
    /// <param name="shape">[out, in], both multiples of 8.</param>
    /// <param name="groupSize">Input columns per group (128 usual), or −1 for one group per output channel.</param>
    /// <param name="groups">Number of groups (⌈in / groupSize⌉ without act-order; g_idx values are below it).</param>
    /// <param name="symmetric">True when every zero point is 8 (recorded for export; the kernels read the zeros).</param>
    /// <param name="qweight">I32 [in/8, out].</param>
    /// <param name="qzeros">I32 [groups, out/8].</param>
    /// <param name="scales">F16 [groups, out].</param>
    /// <param name="gIdx">I32 [in].</param>
    public Int4GroupTensor(Shape shape, int groupSize, int groups, bool symmetric, Tensor qweight, Tensor qzeros, Tensor scales, Tensor gIdx)
    {
        if (shape.Rank != 2 || shape[0] <= 0 || shape[1] <= 0 || shape[0] % 8 != 0 || shape[1] % 8 != 0)
            throw new ArgumentException($"An INT4 group weight is [out, in] with both positive multiples of 8, got {shape}.", nameof(shape));
        if (groupSize == 0 || groupSize < -1) throw new ArgumentException($"Group size must be positive or −1 (per channel), got {groupSize}.", nameof(groupSize));
        if (groups <= 0) throw new ArgumentException($"Group count must be positive, got {groups}.", nameof(groups));
        ArgumentNullException.ThrowIfNull(qweight);
        int rows = shape[0], cols = shape[1];
        var device = qweight.Device;
        RequireMatrix(qweight, "qweight", DType.I32, cols / 8, rows, device);
        RequireMatrix(qzeros, "qzeros", DType.I32, groups, rows / 8, device);
        RequireMatrix(scales, "scales", DType.F16, groups, rows, device);
        Require(gIdx, "g_idx", DType.I32, cols, device);
        // The kernels index scales by g_idx unchecked: validate it once here (a copy of in ints).
        var groupOf = gIdx.ToArray<int>();
        for (int i = 0; i < groupOf.Length; i++)
            if ((uint)groupOf[i] >= (uint)groups)
                throw new ArgumentException($"g_idx[{i}] = {groupOf[i]} is outside [0, {groups}) (the rows of scales/qzeros).", nameof(gIdx));
        _shape = shape;
        GroupSize = groupSize; Groups = groups; Symmetric = symmetric;
        QWeight = qweight; QZeros = qzeros; Scales = scales; GIdx = gIdx;
        _components = [qweight, qzeros, scales, gIdx];
    }

    /// <inheritdoc/>
    public override Shape Shape => _shape;
    /// <inheritdoc/>
    public override QuantFormat Format => QuantFormat.Int4Group;
    /// <inheritdoc/>
    public override Device Device => QWeight.Device;
    /// <inheritdoc/>
    public override IReadOnlyList<Tensor> Components => _components;

    /// <summary>Bits per code (4).</summary>
    public int Bits => 4;
    /// <summary>Input columns per group, or −1 for one group per output channel.</summary>
    public int GroupSize { get; }
    /// <summary>Rows of <see cref="Scales"/> and <see cref="QZeros"/>.</summary>
    public int Groups { get; }
    /// <summary>True when quantized symmetrically (every zero point is 8).</summary>
    public bool Symmetric { get; }
    /// <summary>I32 [in/8, out] eight 4-bit codes per int, input 8p+k in bits 4k…4k+3.</summary>
    public Tensor QWeight { get; }
    /// <summary>I32 [groups, out/8] eight 4-bit zero points per int, output 8j+k in bits 4k…4k+3 (true zeros, not z − 1).</summary>
    public Tensor QZeros { get; }
    /// <summary>F16 [groups, out].</summary>
    public Tensor Scales { get; }
    /// <summary>I32 [in] group of each input column.</summary>
    public Tensor GIdx { get; }

    /// <inheritdoc/>
    public override QuantizedTensor To(Device device) =>
        new Int4GroupTensor(Shape, GroupSize, Groups, Symmetric, QWeight.To(device), QZeros.To(device), Scales.To(device), GIdx.To(device)) { Name = Name };

    private static void RequireMatrix(Tensor t, string what, DType dtype, int rows, int cols, Device device)
    {
        ArgumentNullException.ThrowIfNull(t, what);
        if (t.DType != dtype || t.Rank != 2 || t.Shape[0] != rows || t.Shape[1] != cols || !t.IsContiguous)
            throw new ArgumentException($"{what} must be a contiguous {dtype} [{rows}, {cols}], got {t.Describe()}.", what);
        if (t.Device != device) throw new ArgumentException($"{what} is on {t.Device}; the other components are on {device}.", what);
    }
}
