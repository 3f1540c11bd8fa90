using System.Globalization;
using System.Text;

namespace PureLlama.Kernels.Gpu.Ptx;

/// <summary>
/// Writes one PTX kernel as text: typed virtual registers, parameters, labels and instructions, with a few
/// helpers for the instructions tensor-core kernels need (cp.async, ldmatrix, mma.sync). ILGPU cannot keep
/// mma operands in registers (its inline assembly passes every operand by address), so kernels that live on
/// tensor cores are written with this builder instead: C# loops unroll at generation time into straight-line
/// PTX, and ptxas allocates the physical registers. Registers are declared once, at the top, per type.
/// </summary>
internal sealed class PtxBuilder
{
    private readonly StringBuilder _body = new();
    private readonly List<(string Type, string Name)> _params = [];
    private readonly Dictionary<string, int> _registerCounts = [];
    private readonly List<string> _sharedDeclarations = [];
    private int _labels;

    /// <summary>A kernel named <paramref name="name"/> for <paramref name="target"/> (e.g. sm_80) in PTX ISA <paramref name="version"/>.</summary>
    public PtxBuilder(string name, string target = "sm_80", string version = "7.8")
    {
        Name = name; Target = target; Version = version;
    }

    /// <summary>The entry point's name.</summary>
    public string Name { get; }

    /// <summary>The .target line's architecture.</summary>
    public string Target { get; }

    /// <summary>The .version line's PTX ISA.</summary>
    public string Version { get; }

    /// <summary>Declares a kernel parameter of PTX type <paramref name="type"/> (.u64 for pointers, .u32 for sizes).</summary>
    public string Param(string type, string name)
    {
        _params.Add((type, name));
        return name;
    }

    /// <summary>A fresh register of PTX register type <paramref name="type"/>: b32, b64, f32, pred.</summary>
    public string Reg(string type)
    {
        string prefix = RegisterPrefix(type);
        _registerCounts.TryGetValue(type, out int n);
        _registerCounts[type] = n + 1;
        return $"%{prefix}{n}";
    }

    /// <summary><paramref name="count"/> fresh registers of one type.</summary>
    public string[] Regs(string type, int count)
    {
        var regs = new string[count];
        for (int i = 0; i < count; i++) regs[i] = Reg(type);
        return regs;
    }

    /// <summary>A statically sized, aligned shared-memory array; returns its name (its address is <c>mov.u32 r, name;</c>).</summary>
    public string Shared(string name, int bytes, int alignment = 16)
    {
        _sharedDeclarations.Add($".shared .align {alignment} .b8 {name}[{bytes}];");
        return name;
    }

    /// <summary>A new unique label name (placed with <see cref="Label"/>).</summary>
    public string NewLabel(string hint) => $"$L_{hint}_{_labels++}";

    /// <summary>Places <paramref name="label"/> here.</summary>
    public void Label(string label) => _body.Append(label).Append(":\n");

    /// <summary>One instruction (without the trailing semicolon), optionally guarded by predicate <paramref name="guard"/> (e.g. "%p1" or "!%p1").</summary>
    public void Op(string instruction, string? guard = null)
    {
        _body.Append('\t');
        if (guard is not null) _body.Append('@').Append(guard).Append(' ');
        _body.Append(instruction).Append(";\n");
    }

    /// <summary>A comment line, to keep the generated text readable.</summary>
    public void Comment(string text) => _body.Append("\t// ").Append(text).Append('\n');

    /// <summary>A 32-bit integer constant as PTX writes it.</summary>
    public static string Imm(int value) => value.ToString(CultureInfo.InvariantCulture);

    // ---- instructions with a fixed shape -------------------------------------------------------------------------

    /// <summary>cp.async of 16 bytes global → shared, zero-filling the bytes beyond <paramref name="sourceBytes"/> (0 or 16).</summary>
    public void CpAsync16(string sharedAddress, string globalAddress, string sourceBytes) =>
        Op($"cp.async.cg.shared.global [{sharedAddress}], [{globalAddress}], 16, {sourceBytes}");

    /// <summary>Closes the cp.async group issued so far.</summary>
    public void CpAsyncCommit() => Op("cp.async.commit_group");

    /// <summary>Waits until at most <paramref name="pending"/> cp.async groups are still in flight.</summary>
    public void CpAsyncWait(int pending) => Op($"cp.async.wait_group {Imm(pending)}");

    /// <summary>Barrier over the thread block.</summary>
    public void BarSync() => Op("bar.sync 0");

    /// <summary>ldmatrix of four 8×8 b16 matrices from shared memory; each lane gives the address of one row.</summary>
    public void LdMatrixX4(string[] destination, string sharedAddress) =>
        Op($"ldmatrix.sync.aligned.m8n8.x4.shared.b16 {{{string.Join(", ", destination)}}}, [{sharedAddress}]");

    /// <summary>D = A·B + C on one warp: m16n8k16, A row-major and B column-major BF16 pairs in b32 registers, C and D F32.</summary>
    public void MmaBf16(string[] d, string[] a, string[] b, string[] c) =>
        Op($"mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {{{string.Join(", ", d)}}}, {{{string.Join(", ", a)}}}, " +
           $"{{{string.Join(", ", b)}}}, {{{string.Join(", ", c)}}}");

    /// <summary>The module text: header, shared declarations, the entry with its parameters and registers, the body.</summary>
    public string Build()
    {
        var s = new StringBuilder();
        s.Append(CultureInfo.InvariantCulture, $"// Generated by PureLlama's PtxBuilder ({Name}).\n");
        s.Append(CultureInfo.InvariantCulture, $".version {Version}\n.target {Target}\n.address_size 64\n\n");
        foreach (var d in _sharedDeclarations) s.Append(d).Append('\n');
        s.Append(CultureInfo.InvariantCulture, $"\n.visible .entry {Name}(\n");
        for (int i = 0; i < _params.Count; i++)
            s.Append(CultureInfo.InvariantCulture, $"\t.param {_params[i].Type} {_params[i].Name}{(i + 1 < _params.Count ? "," : "")}\n");
        s.Append(")\n{\n");
        foreach (var (type, count) in _registerCounts)
            s.Append(CultureInfo.InvariantCulture, $"\t.reg .{type} %{RegisterPrefix(type)}<{count}>;\n");
        s.Append(_body);
        s.Append("\tret;\n}\n");
        return s.ToString();
    }

    private static string RegisterPrefix(string type) => type switch
    {
        "b32" => "r",
        "b64" => "rd",
        "f32" => "f",
        "pred" => "p",
        _ => throw new ArgumentException($"Register type '{type}' is not one of b32, b64, f32, pred.", nameof(type)),
    };
}
