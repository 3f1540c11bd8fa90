using System.Text.RegularExpressions;
using PureLlama.Kernels.Gpu.Ptx;

namespace PureLlama.Kernels.Tests.Gpu;

/// <summary>
/// The PTX-builder kernels as text (no GPU needed): the tensor-core GEMM has the instruction mix its tiling implies and
/// uses only registers it declares. That ptxas assembles it without spills is checked by scripts/ptx-check.sh (CI);
/// its numbers against the reference, on a CUDA device, by GpuMatmulCudaTests.Ptx_bf16_gemm_matches_reference_on_cuda.
/// </summary>
public sealed class PtxBuilderTests
{
    private static int Count(string text, string pattern) => Regex.Matches(text, pattern).Count;

    [Fact]
    public void Bf16_gemm_has_the_instruction_mix_of_its_tiling()
    {
        string ptx = PtxBf16Gemm.Generate();
        ptx.Should().Contain(".target sm_80").And.Contain($".visible .entry {PtxBf16Gemm.Name}(");
        Count(ptx, @"\.param \.u64 ").Should().Be(3, "A, B, C");
        Count(ptx, @"\.param \.u32 ").Should().Be(7, "m, n, k, lda, ldb, ldc, accumulate");
        // per 32-deep stage: 2 k16 steps × (4 A + 2 B ldmatrix.x4, 4 × 4 mma)
        Count(ptx, @"\bmma\.sync\.aligned\.m16n8k16\.row\.col\.f32\.bf16\.bf16\.f32\b").Should().Be(2 * 16);
        Count(ptx, @"\bldmatrix\.sync\.aligned\.m8n8\.x4\.shared\.b16\b").Should().Be(2 * 6);
        // the first stage and the prefetch each copy 2 chunks of A and 2 of B per thread
        Count(ptx, @"\bcp\.async\.cg\.shared\.global\b").Should().Be(2 * 4);
        Count(ptx, @"\bst\.global\.f32\b").Should().Be(64, "one guarded store per accumulator");
        Count(ptx, @"\.shared \.align 16 \.b8 tiles\[(\d+)\]").Should().Be(1);
        ptx.Should().Contain("tiles[40960]", "two stages of (128 + 128) rows × 80 bytes");
    }

    [Fact]
    public void Every_register_used_is_declared_and_every_branch_has_its_label()
    {
        string ptx = PtxBf16Gemm.Generate("sm_90");
        var declared = Regex.Matches(ptx, @"\.reg \.\w+ %(\w+?)<(\d+)>;").ToDictionary(m => m.Groups[1].Value, m => int.Parse(m.Groups[2].Value));
        declared.Keys.Should().BeEquivalentTo(["r", "rd", "f", "p"]);
        foreach (Match use in Regex.Matches(ptx, @"%(rd|r|f|p)(\d+)\b"))
            int.Parse(use.Groups[2].Value).Should().BeLessThan(declared[use.Groups[1].Value], $"{use.Value} is declared");
        var labels = Regex.Matches(ptx, @"^(\$L_\w+):", RegexOptions.Multiline).Select(m => m.Groups[1].Value).ToList();
        labels.Should().OnlyHaveUniqueItems();
        foreach (Match branch in Regex.Matches(ptx, @"bra\.uni (\$L_\w+);"))
            labels.Should().Contain(branch.Groups[1].Value);
        ptx.Count(ch => ch == '{').Should().Be(ptx.Count(ch => ch == '}'));
    }

    [Fact]
    public void Builder_names_registers_by_type_and_rejects_unknown_types()
    {
        var p = new PtxBuilder("k");
        p.Reg("b32").Should().Be("%r0");
        p.Reg("b32").Should().Be("%r1");
        p.Regs("f32", 2).Should().Equal("%f0", "%f1");
        p.Reg("pred").Should().Be("%p0");
        p.NewLabel("x").Should().NotBe(p.NewLabel("x"));
        p.Invoking(b => b.Reg("f16")).Should().Throw<ArgumentException>().WithMessage("*f16*");
        string text = p.Build();
        text.Should().Contain(".reg .b32 %r<2>;").And.Contain(".reg .f32 %f<2>;").And.Contain(".reg .pred %p<1>;");
    }
}
