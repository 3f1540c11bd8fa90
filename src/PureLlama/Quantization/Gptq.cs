using System.Numerics.Tensors;

namespace PureLlama.Quantization;

/// <summary>Which weights a GPTQ group's grid (scale, zero) is fitted to when the group's first column is reached.</summary>
public enum GptqGroupFit
{
    /// <summary>
    /// As the reference implementation (GPTQ, AutoGPTQ with static_groups=False): the weights as they stood when
    /// the current block of columns started, i.e. with the earlier blocks' errors applied but not the errors of
    /// the columns already quantized in this block. Differs from <see cref="Updated"/> only for groups that start
    /// inside a block (group size &lt; block size).
    /// </summary>
    BlockStart,

    /// <summary>The weights with every error so far applied, including this block's earlier columns.</summary>
    Updated,
}

/// <summary>Options of <see cref="Gptq"/> (defaults as AutoGPTQ / GPTQModel).</summary>
/// <param name="Quant">Bits, group size and symmetry of the grids.</param>
/// <param name="DampPercent">Dampening added to H's diagonal, as a fraction of mean(diag H).</param>
/// <param name="BlockSize">Columns per lazy-update block.</param>
/// <param name="ActOrder">Quantize columns in order of decreasing H_ii (desc_act), recording g_idx.</param>
public readonly record struct GptqOptions(GroupQuantOptions Quant, double DampPercent = 0.01, int BlockSize = 128, bool ActOrder = false)
{
    /// <summary>What a group's grid is fitted to (<see cref="GptqGroupFit.BlockStart"/>, the reference's way, by default).</summary>
    public GptqGroupFit GroupFit { get; init; }

    /// <summary>4-bit, group 128, asymmetric, damp 0.01, blocks of 128, no act-order.</summary>
    public GptqOptions() : this(new GroupQuantOptions()) { }
}

/// <summary>
/// GPTQ (Frantar et al. 2022): quantizes the columns of W [out, in] one at a time, each time spreading the
/// rounding error over the not-yet-quantized columns through the inverse Hessian of the layer input,
/// minimising ‖WX − ŴX‖². With U the upper Cholesky factor of H⁻¹ (H⁻¹ = UᵀU), column j's error
/// e = (w_j − q_j)/U[j,j] updates w_k −= e·U[j,k] for k &gt; j. Updates inside a block of 128 columns are
/// immediate; the block's accumulated errors update the trailing columns in one batch (lazy batch
/// updates). Each group's grid is fitted when its first column is reached, to the weights as they stood at
/// the start of the current block (as the reference implementation does; see <see cref="GptqGroupFit"/>).
/// Rows are independent given H, so row chunks run in parallel; arithmetic is float64.
/// </summary>
public static class Gptq
{
    private const int RowChunk = 16, TileColumns = 256;

    /// <summary>Quantizes W [out, in] (row-major F32) with the Hessian of its input.</summary>
    public static GroupQuantized Quantize(ReadOnlySpan<float> weight, int rows, int columns, GptqHessian hessian, GptqOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(hessian);
        if (hessian.Columns != columns) throw new ArgumentException($"Hessian is [{hessian.Columns}, {hessian.Columns}] but the weight has {columns} input columns.", nameof(hessian));
        return Quantize(weight, rows, columns, hessian.Matrix(), options);
    }

    /// <summary>Quantizes W [out, in] (row-major F32) with H [in, in] (float64, symmetric; modified: pass a copy to keep it).</summary>
    public static GroupQuantized Quantize(ReadOnlySpan<float> weight, int rows, int columns, double[] hessian, GptqOptions? options = null)
    {
        var opt = options ?? new GptqOptions();
        var q = opt.Quant.Bits == 0 ? new GroupQuantOptions() : opt.Quant;
        q.Validate(rows, columns);
        if (weight.Length != (long)rows * columns) throw new ArgumentException($"Weight has {weight.Length} elements, expected [{rows}, {columns}].", nameof(weight));
        if (hessian.Length != (long)columns * columns) throw new ArgumentException($"Hessian has {hessian.Length} elements, expected [{columns}, {columns}].", nameof(hessian));
        if (opt.BlockSize <= 0) throw new ArgumentOutOfRangeException(nameof(options), opt.BlockSize, "Block size must be positive.");
        if (!Enum.IsDefined(opt.GroupFit)) throw new ArgumentOutOfRangeException(nameof(options), opt.GroupFit, "Unknown group fit.");
        if (!(opt.DampPercent >= 0)) throw new ArgumentOutOfRangeException(nameof(options), opt.DampPercent, "Damp percent must be ≥ 0.");
        int n = columns;

        // Dead inputs (never active in calibration): H_ii = 1 and the weight column is zeroed, as GPTQ does.
        var dead = new bool[n];
        for (int i = 0; i < n; i++)
            if (hessian[(long)i * n + i] == 0) { dead[i] = true; hessian[(long)i * n + i] = 1; }

        // Column order: act-order sorts by H_ii descending (stable, so ties keep input order).
        var perm = Enumerable.Range(0, n).ToArray();
        if (opt.ActOrder) perm = perm.OrderByDescending(i => hessian[(long)i * n + i]).ToArray();
        var h = new double[hessian.Length];
        Parallel.For(0, n, a =>
        {
            for (int b = 0; b < n; b++) h[(long)a * n + b] = hessian[(long)perm[a] * n + perm[b]];
        });
        var u = InverseFactor(h, n, opt.DampPercent);

        // Working weights in permuted column order, float64 [out, in].
        var w = new double[(long)rows * n];
        var src = weight.ToArray();
        Parallel.For(0, rows, r =>
        {
            for (int c = 0; c < n; c++) w[(long)r * n + c] = dead[perm[c]] ? 0 : src[(long)r * n + perm[c]];
        });

        int width = q.Width(n), groups = q.GroupCount(n);
        var codes = new byte[(long)rows * n];
        var scales = new float[(long)groups * rows];
        var zeros = new byte[scales.Length];
        int chunks = (rows + RowChunk - 1) / RowChunk;
        Parallel.For(0, chunks, chunk =>
        {
            int r0 = chunk * RowChunk, rc = Math.Min(RowChunk, rows - r0);
            var grids = new QuantGrid[rc];
            var err = new double[rc * opt.BlockSize]; // [rc, block]
            var blockStart = new double[rc * opt.BlockSize]; // [rc, block]: the block's weights before its own updates
            var fitScratch = new double[width];
            for (int b0 = 0; b0 < n; b0 += opt.BlockSize)
            {
                int b1 = Math.Min(n, b0 + opt.BlockSize);
                for (int r = 0; r < rc; r++)
                    w.AsSpan((int)((long)(r0 + r) * n + b0), b1 - b0).CopyTo(blockStart.AsSpan(r * opt.BlockSize));
                for (int j = b0; j < b1; j++)
                {
                    if (j % width == 0)
                    {
                        int g = j / width, len = Math.Min(width, n - j);
                        for (int r = 0; r < rc; r++)
                        {
                            var row = w.AsSpan((int)((long)(r0 + r) * n), n);
                            grids[r] = QuantGrid.Fit(GroupWeights(row, blockStart.AsSpan(r * opt.BlockSize, b1 - b0), b0, j, len, opt.GroupFit, fitScratch), q.Bits, q.Symmetric);
                            scales[(long)g * rows + r0 + r] = grids[r].Scale;
                            zeros[(long)g * rows + r0 + r] = grids[r].Zero;
                        }
                    }
                    double d = u[(long)j * n + j];
                    var uRow = u.AsSpan((int)((long)j * n + j + 1), b1 - j - 1);
                    for (int r = 0; r < rc; r++)
                    {
                        long at = (long)(r0 + r) * n + j;
                        byte code = grids[r].Code(w[at]);
                        codes[(long)(r0 + r) * n + perm[j]] = code;
                        double e = (w[at] - grids[r].Value(code)) / d;
                        err[r * opt.BlockSize + (j - b0)] = e;
                        var rest = w.AsSpan((int)(at + 1), b1 - j - 1);
                        TensorPrimitives.MultiplyAdd<double>(uRow, -e, rest, rest);
                    }
                }
                // Lazy batch update of the trailing columns: W[:, b1:] −= E·U[b0:b1, b1:], in column tiles.
                for (int t0 = b1; t0 < n; t0 += TileColumns)
                {
                    int tw = Math.Min(TileColumns, n - t0);
                    for (int j = b0; j < b1; j++)
                    {
                        var uTile = u.AsSpan((int)((long)j * n + t0), tw);
                        for (int r = 0; r < rc; r++)
                        {
                            var wTile = w.AsSpan((int)((long)(r0 + r) * n + t0), tw);
                            TensorPrimitives.MultiplyAdd<double>(uTile, -err[r * opt.BlockSize + (j - b0)], wTile, wTile);
                        }
                    }
                }
            }
        });

        var gIdx = new int[n];
        for (int c = 0; c < n; c++) gIdx[perm[c]] = c / width;
        return new GroupQuantized(rows, n, q.Bits, q.GroupSize, groups, q.Symmetric, codes, scales, zeros, gIdx);
    }

    /// <summary>
    /// The weights group [j, j + len) of one row is fitted to: the row as updated so far, or (BlockStart) the
    /// block's columns as they were when block [b0, b0 + blockStart.Length) started followed by the columns
    /// after the block (which the block's lazy update has not reached yet).
    /// </summary>
    private static ReadOnlySpan<double> GroupWeights(Span<double> row, ReadOnlySpan<double> blockStart, int b0, int j, int len, GptqGroupFit fit, double[] scratch)
    {
        if (fit == GptqGroupFit.Updated || j == b0) return row.Slice(j, len);
        int inBlock = Math.Min(len, b0 + blockStart.Length - j);
        blockStart.Slice(j - b0, inBlock).CopyTo(scratch);
        row.Slice(j + inBlock, len - inBlock).CopyTo(scratch.AsSpan(inBlock));
        return scratch.AsSpan(0, len);
    }

    /// <summary>U with (H + λI)⁻¹ = UᵀU, λ = damp·mean(diag H); the dampening grows ×10 (up to 3 times) if H is still not positive definite.</summary>
    private static double[] InverseFactor(double[] h, int n, double dampPercent)
    {
        double mean = 0;
        for (int i = 0; i < n; i++) mean += h[(long)i * n + i];
        mean /= n;
        double damp = dampPercent;
        for (int attempt = 0; attempt < 4; attempt++, damp = Math.Max(damp * 10, 0.01))
        {
            var hd = (double[])h.Clone();
            for (int i = 0; i < n; i++) hd[(long)i * n + i] += damp * mean;
            if (Cholesky64.TryInverseUpperFactor(hd, n, out var u)) return u;
        }
        throw new ArgumentException($"GPTQ: the Hessian [{n}, {n}] is not positive definite even with dampening {damp / 10:G3}·mean(diag); check the calibration inputs (NaN/Inf?).");
    }
}
