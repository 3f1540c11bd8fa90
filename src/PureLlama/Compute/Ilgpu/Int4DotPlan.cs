using PureLlama.Kernels.Gpu;
using PureLlama.Tensors;

namespace PureLlama.Compute;

/// <summary>
/// An INT4 group weight's dp4a layout on its device (<see cref="Int4DotLayout"/>), built once from g_idx at the weight's
/// first fast product and disposed with the weight (<see cref="QuantizedTensor.HostPacked{T}"/>): the groups of the
/// 32-column activation blocks and, for act-order, the column permutation and a copy of qweight sorted by group
/// (as much memory again as qweight; the original stays for the exact path).
/// </summary>
internal sealed class Int4DotPlan : IDisposable
{
    private readonly Tensor _blockGroups;
    private readonly Tensor? _permutation, _qweight;

    private Int4DotPlan(Tensor blockGroups, Tensor? permutation, Tensor? qweight)
    {
        _blockGroups = blockGroups; _permutation = permutation; _qweight = qweight;
    }

    /// <summary>The plan, or null when a 32-column activation block would straddle two groups (the exact path serves the weight).</summary>
    public static Int4DotPlan? Create(Int4GroupTensor w)
    {
        var layout = Int4DotLayout.Plan(w.GIdx.ToArray<int>(), w.Groups);
        if (layout is null) return null;
        var blockGroups = Tensor.FromArray(layout.BlockGroups, new Shape(layout.BlockGroups.Length), w.Device);
        if (layout.Order is null) return new Int4DotPlan(blockGroups, null, null);
        try
        {
            var qweight = layout.PermuteQWeight(w.QWeight.ToArray<int>(), w.Rows);
            var permutation = Tensor.FromArray(layout.Order, new Shape(w.Columns), w.Device);
            try { return new Int4DotPlan(blockGroups, permutation, Tensor.FromArray(qweight, w.QWeight.Shape, w.Device)); }
            catch { permutation.Dispose(); throw; }
        }
        catch { blockGroups.Dispose(); throw; }
    }

    /// <summary>The layout's tensors: block groups, the permutation or null, the sorted qweight or null (use the weight's own).</summary>
    public (Tensor BlockGroups, Tensor? Permutation, Tensor? QWeight) Tensors => (_blockGroups, _permutation, _qweight);

    public void Dispose()
    {
        _blockGroups.Dispose();
        _permutation?.Dispose();
        _qweight?.Dispose();
    }
}
