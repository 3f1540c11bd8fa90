using ILGPU;
using ILGPU.Runtime;
using PureLlama.Kernels.Gpu;
using PureLlama.Kernels.Simd;
using PureLlama.Kernels.Tests.Harness;

namespace PureLlama.Kernels.Tests.Gpu;

/// <summary>
/// The pieces of the GPU int8 dot-product path (Gpu/Int8Dot): the dp4a / prmt emulation against plain byte
/// arithmetic, the device activation quantizer against the CPU's Q8 blocks bit for bit on every device (ragged columns,
/// permutation, zero and non-finite blocks, poisoned scratch; IEEE divisions on CUDA too) and the INT4 layout planner. The CudaAsm forms of dp4a / prmt run only on a
/// CUDA device (the products' tests there, and `purellama selftest --device cuda`); ptxas assembles them in the PTX check.
/// </summary>
[Collection("Gpu")]
public sealed unsafe class GpuInt8DotPrimitiveTests
{
    public static TheoryData<string> Devices => GpuTestDevices.Names;

    [Fact]
    public void Dp4a_emulation_is_the_exact_byte_dot_product()
    {
        var rng = new Random(RandomData.Seed("dp4a emulation"));
        int[] extremes = [0, -1, int.MinValue, int.MaxValue, unchecked((int)0x80808080), 0x7F7F7F7F, unchecked((int)0x81818181)];
        for (int t = 0; t < 20000; t++)
        {
            int a = t < 49 ? extremes[t % 7] : rng.Next(int.MinValue, int.MaxValue);
            int b = t < 49 ? extremes[t / 7] : rng.Next(int.MinValue, int.MaxValue);
            int c = rng.Next(-1 << 24, 1 << 24);
            long expected = c;
            for (int k = 0; k < 4; k++) expected += (sbyte)(a >> (8 * k)) * (sbyte)(b >> (8 * k));
            GpuDp4a.Dot4Emulated(a, b, c).Should().Be((int)expected, $"a = 0x{a:X8}, b = 0x{b:X8}, c = {c}");
            foreach (int selector in new[] { 0x6420, 0x7531, 0x3210, 0x7654, 0x0000 })
            {
                ulong bytes = (uint)a | ((ulong)(uint)b << 32);
                int want = 0;
                for (int k = 0; k < 4; k++) want |= (int)((bytes >> (8 * ((selector >> (4 * k)) & 7))) & 0xFF) << (8 * k);
                GpuDp4a.PermuteEmulated(a, b, selector).Should().Be(want, $"prmt 0x{selector:X4} of 0x{a:X8}, 0x{b:X8}");
            }
        }
    }

    [Theory]
    [MemberData(nameof(Devices))]
    public void Activation_quantizer_matches_the_CPU_Q8_blocks(string device)
    {
        var acc = GpuTestDevices.Get(device);
        foreach (var (rows, cols) in new[] { (1, 1), (2, 31), (3, 33), (4, 70), (1, 100), (4, 256) })
            foreach (bool permuted in new[] { false, true })
            {
                string what = $"{device} [{rows},{cols}] permuted={permuted}";
                int seed = RandomData.Seed("gpu q8 activations", rows, cols, permuted ? 1 : 0);
                var x = RandomData.Uniform(seed, rows * cols, -3f, 3f);
                if (cols >= 70) for (int c = 32; c < 64; c++) x[c] = 0f;   // an all-zero block: d = 0, codes 0
                int[]? perm = permuted ? Permutation(seed + 1, cols) : null;
                var (codes, scales, sums) = DeviceQuantize(acc, x, rows, cols, perm);
                using var host = HostQuantize(x, rows, cols, perm);
                for (int j = 0; j < rows; j++)
                    for (int b = 0; b < host.Blocks; b++)
                    {
                        int at = j * host.Blocks + b;
                        BitConverter.SingleToInt32Bits(scales[at]).Should().Be(BitConverter.SingleToInt32Bits(host.RowScales(j)[b]), $"{what}: d[{j},{b}]");
                        int sum = 0;
                        for (int c = 0; c < 32; c++)
                        {
                            int got = codes[j * host.PaddedCols + 32 * b + c], want = host.Row(j)[32 * b + c];
                            got.Should().Be(want, $"{what}: a[{j},{32 * b + c}]");
                            if (32 * b + c >= cols) got.Should().Be(0, $"{what}: padding a[{j},{32 * b + c}]");
                            sum += got;
                        }
                        sums[at].Should().Be(sum, $"{what}: S[{j},{b}] is the sum of its codes");
                    }
            }
    }

    [Theory]
    [MemberData(nameof(Devices))]
    public void A_non_finite_value_makes_its_block_scale_NaN(string device)
    {
        var acc = GpuTestDevices.Get(device);
        var x = RandomData.Uniform(RandomData.Seed("gpu q8 nan"), 3 * 40);
        x[5] = float.NaN;                 // row 0, block 0
        x[40 + 35] = float.PositiveInfinity;   // row 1, block 1
        x[80 + 3] = float.NegativeInfinity;    // row 2, block 0
        var (codes, scales, _) = DeviceQuantize(acc, x, 3, 40, null);
        float.IsNaN(scales[0]).Should().BeTrue();
        float.IsNaN(scales[3]).Should().BeTrue();
        float.IsNaN(scales[4]).Should().BeTrue();
        float.IsFinite(scales[1]).Should().BeTrue("row 0's second block is finite");
        float.IsFinite(scales[2]).Should().BeTrue("row 1's first block is finite");
        codes.AsSpan(0, 32).ToArray().Should().OnlyContain(c => c == 0, "a non-finite block's codes are 0");
    }

    [Fact]
    public void Int4_layout_sorts_act_order_columns_and_rejects_blocks_that_straddle_groups()
    {
        // Sequential g64 with a short last group of 32: identity, groups 0,0,1,1,2.
        var layout = Int4DotLayout.Plan(Enumerable.Range(0, 160).Select(i => i / 64).ToArray(), 3)!;
        layout.Order.Should().BeNull();
        layout.BlockGroups.Should().Equal(0, 0, 1, 1, 2);
        // One group over 200 columns (per channel): 7 blocks, the last partial.
        Int4DotLayout.Plan(new int[200], 1)!.BlockGroups.Should().Equal(0, 0, 0, 0, 0, 0, 0);
        // g16 and g48: a 32-column block holds two groups.
        Int4DotLayout.Plan(Enumerable.Range(0, 64).Select(i => i / 16).ToArray(), 4).Should().BeNull();
        Int4DotLayout.Plan(Enumerable.Range(0, 96).Select(i => i / 48).ToArray(), 2).Should().BeNull();
        // Act-order g32: the order lists each group's columns in their original order, and the qweight copy moves the codes along.
        var rng = new Random(RandomData.Seed("int4 layout act-order"));
        var g = Enumerable.Range(0, 96).Select(i => i / 32).OrderBy(_ => rng.Next()).ToArray();
        var act = Int4DotLayout.Plan(g, 3)!;
        act.BlockGroups.Should().Equal(0, 1, 2);
        var order = act.Order!;
        order.Select(c => g[c]).Should().BeInAscendingOrder();
        for (int k = 1; k < 96; k++) if (g[order[k]] == g[order[k - 1]]) order[k].Should().BeGreaterThan(order[k - 1]);
        const int rows = 8;
        var qweight = Enumerable.Range(0, 96 / 8 * rows).Select(_ => rng.Next(int.MinValue, int.MaxValue)).ToArray();
        var moved = act.PermuteQWeight(qweight, rows);
        for (int c = 0; c < 96; c++)
            for (int o = 0; o < rows; o++)
                Nibble(moved, rows, c, o).Should().Be(Nibble(qweight, rows, order[c], o));
        FluentActions.Invoking(() => Int4DotLayout.Plan(new[] { 0, 3 }, 3)).Should().Throw<ArgumentException>().WithMessage("*g_idx value 3*[0, 3)*");
    }

    private static int Nibble(int[] qweight, int rows, int c, int o) => (int)(((uint)qweight[c / 8 * rows + o] >> (4 * (c % 8))) & 15);

    internal static int[] Permutation(int seed, int n)
    {
        var rng = new Random(seed);
        var p = Enumerable.Range(0, n).ToArray();
        for (int i = n - 1; i > 0; i--) { int j = rng.Next(i + 1); (p[i], p[j]) = (p[j], p[i]); }
        return p;
    }

    private static Q8Activations HostQuantize(float[] x, int rows, int cols, int[]? perm)
    {
        fixed (float* px = x)
        fixed (int* pp = perm)
            return Q8Activations.Quantize(px, rows, cols, cols, pp, simd: false);
    }

    /// <summary>Runs the device quantizer into poisoned scratch; returns codes [rows, padded], scales and sums [rows, blocks].</summary>
    private static (sbyte[] Codes, float[] Scales, int[] Sums) DeviceQuantize(Accelerator acc, float[] x, int rows, int cols, int[]? perm)
    {
        using var scratch = acc.Upload(Poison.Bytes(GpuQ8Activations.ScratchBytes(rows, cols)));
        using var dx = acc.Upload(x);
        using var dp = acc.Upload(perm ?? [0]);
        var a = GpuQ8Activations.Carve(scratch.View, rows, cols);
        GpuQ8Activations.Quantize(acc.DefaultStream, dx.View.SubView(0, x.Length), perm is null ? default : dp.View, a);
        acc.DefaultStream.Synchronize();
        var codes = new sbyte[a.Values.Length];
        var scales = new float[a.Scales.Length];
        var sums = new int[a.Sums.Length];
        a.Values.CopyToCPU(codes);
        a.Scales.CopyToCPU(scales);
        a.Sums.CopyToCPU(sums);
        return (codes, scales, sums);
    }
}
