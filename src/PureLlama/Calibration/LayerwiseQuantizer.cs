using System.Diagnostics;
using PureLlama.Llama;
using PureLlama.Nn;
using PureLlama.Quantization;
using PureLlama.Tensors;

namespace PureLlama.Calibration;

/// <summary>The 4-bit group method of a <see cref="LayerwiseQuantizer"/> run.</summary>
public enum GroupMethod
{
    /// <summary>Round to nearest (no calibration statistics; the baseline).</summary>
    Rtn,
    /// <summary>GPTQ with one Hessian per shared input.</summary>
    Gptq,
    /// <summary>AWQ: scale search folded into the preceding op, clipping search, then rounding.</summary>
    Awq,
}

/// <summary>Options of a <see cref="LayerwiseQuantizer"/> run.</summary>
/// <param name="Method">RTN, GPTQ or AWQ.</param>
/// <param name="Quant">Bits (4: the packed format), group size (128; −1 per channel), symmetry.</param>
/// <param name="DampPercent">GPTQ dampening as a fraction of mean(diag H).</param>
/// <param name="ActOrder">GPTQ desc_act (columns by decreasing H_ii, g_idx recorded).</param>
/// <param name="TrueSequential">GPTQ true_sequential: quantize q/k/v, then o_proj, then gate/up, then down_proj, each
/// from inputs computed with the groups before it already quantized (four passes over the samples per layer
/// instead of one, as AutoGPTQ's default).</param>
public sealed record LayerwiseOptions(GroupMethod Method, GroupQuantOptions Quant, double DampPercent = 0.01, bool ActOrder = false, bool TrueSequential = false)
{
    /// <summary>GPTQ: what each group's grid is fitted to (the reference's block-start weights by default).</summary>
    public GptqGroupFit GptqGroupFit { get; init; }

    internal GptqOptions Gptq => new(Quant, DampPercent, 128, ActOrder) { GroupFit = GptqGroupFit };
    internal AwqOptions Awq => new(Quant);
}

/// <summary>Progress of one layer.</summary>
/// <param name="Layer">Layer number (0-based).</param>
/// <param name="Layers">Layers in the model.</param>
/// <param name="Seconds">Wall time of the layer (statistics, quantization, outputs).</param>
/// <param name="RelativeError">‖Y − Ŷ‖² / ‖Y‖² of the layer's outputs on the calibration inputs it received (NaN without samples).</param>
public sealed record LayerProgress(int Layer, int Layers, double Seconds, double RelativeError)
{
    /// <summary>"layer 3/16: 4.2 s, relative output error 1.2e-4".</summary>
    public override string ToString() => $"layer {Layer + 1}/{Layers}: {Seconds:F1} s, " +
        (double.IsNaN(RelativeError) ? "no calibration samples (output error not measured)" : $"relative output error {RelativeError:E2}");
}

/// <summary>
/// Quantizes a loaded model's projections to 4-bit groups layer by layer (the calibration pipeline above
/// <see cref="Gptq"/>, <see cref="Awq"/> and <see cref="Rtn"/>). Only one layer's inputs are held (one
/// [T, hidden] tensor per calibration sequence). For layer i: run the sequences through it once with its
/// linears wrapped to see their inputs — q/k/v share the post-input-norm activations, o_proj reads the
/// attention output, gate/up share the post-attention-norm activations, down_proj reads silu(gate)·up —
/// feeding GPTQ Hessians or AWQ activation matrices; quantize the seven projections (AWQ first searches
/// the scales of each group, folds them into the preceding RMSNorm or linear — v_proj for o_proj when
/// their widths match, i.e. without GQA; up_proj for down_proj — then searches clipping, q/k excepted as
/// AutoAWQ does); swap them in with <see cref="LlamaModel.ReplaceLinear"/>; then run the quantized layer on
/// the same inputs to make the next layer's inputs (errors propagate as GPTQ's sequential scheme intends).
/// lm_head and the embeddings stay as loaded. Load the model memory-mapped so that dense weights are paged
/// in one layer at a time.
/// </summary>
public static class LayerwiseQuantizer
{
    private static readonly string[] s_projections =
        ["self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj", "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj"];

    /// <summary>Quantizes <paramref name="model"/> in place; returns the per-layer progress records.</summary>
    /// <param name="model">A model whose projections are dense (F32/BF16).</param>
    /// <param name="samples">Calibration token sequences (may be empty for RTN).</param>
    /// <param name="options">Method and grid.</param>
    /// <param name="progress">Called after each layer.</param>
    public static IReadOnlyList<LayerProgress> Quantize(LlamaModel model, IReadOnlyList<int[]> samples, LayerwiseOptions options, Action<LayerProgress>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(samples);
        ArgumentNullException.ThrowIfNull(options);
        if (options.Quant.Bits != 4) throw new ArgumentException($"Only 4-bit weights pack into the GPTQ/AWQ layouts; --bits {options.Quant.Bits} was asked.");
        if (options.Method != GroupMethod.Rtn && samples.Count == 0) throw new ArgumentException($"{options.Method} needs calibration samples.");
        foreach (var (name, linear) in model.NamedLinears())
            if (name != "lm_head" && linear is not Linear)
                throw new InvalidOperationException($"'{name}' is already a {linear.GetType().Name}; quantize a dense model.");

        var inputs = samples.Select(model.EmbedSequence).ToList(); // per sample [T, C]
        var reports = new List<LayerProgress>();
        try
        {
            for (int l = 0; l < model.Layers.Count; l++)
            {
                var clock = Stopwatch.StartNew();
                var stats = new LayerStatistics(options.Method, model.Layers[l]);
                var reference = new List<float[]>(inputs.Count);
                bool sequential = options.Method == GroupMethod.Gptq && options.TrueSequential;
                int[][] passes = sequential ? [[0], [1], [2], [3]] : [[0, 1, 2, 3]];
                foreach (var slots in passes)
                {
                    if (inputs.Count > 0)
                    {
                        var wrapped = Wrap(model, l, stats, slots);
                        try
                        {
                            foreach (var x in inputs)
                            {
                                using var y = model.ForwardLayer(l, x);
                                if (reference.Count < inputs.Count) reference.Add(y.ToFloatArray()); // the first pass runs the unquantized layer
                            }
                        }
                        finally { Unwrap(model, l, wrapped); }
                    }
                    QuantizeLayer(model, l, stats, options, sequential ? s_projections.Where(m => SlotOf(m) == slots[0]).ToArray() : s_projections);
                }
                double err = 0, norm = 0;
                for (int s = 0; s < inputs.Count; s++)
                {
                    var y = model.ForwardLayer(l, inputs[s]);
                    var yq = y.ToFloatArray();
                    for (int i = 0; i < yq.Length; i++) { double d = yq[i] - reference[s][i]; err += d * d; norm += (double)reference[s][i] * reference[s][i]; }
                    inputs[s].Dispose();
                    inputs[s] = y;
                }
                var report = new LayerProgress(l, model.Layers.Count, clock.Elapsed.TotalSeconds, norm > 0 ? err / norm : double.NaN);
                reports.Add(report);
                progress?.Invoke(report);
            }
        }
        finally
        {
            foreach (var x in inputs) x.Dispose();
        }
        return reports;
    }

    // Wraps the layer's q (for q/k/v), o, gate (for gate/up) and down with capturing layers; returns the originals.
    private static Dictionary<string, ILinear> Wrap(LlamaModel model, int layer, LayerStatistics stats, int[] slots)
    {
        var originals = new Dictionary<string, ILinear>();
        if (stats.Method == GroupMethod.Rtn) return originals;
        string p = $"model.layers.{layer}.";
        void Capture(string module, int slot)
        {
            if (!slots.Contains(slot)) return;
            var inner = model.NamedLinears().First(x => x.Name == p + module).Linear;
            originals[p + module] = inner;
            model.ReplaceLinear(p + module, new CaptureLinear(inner, (x, rows) => stats.Add(slot, x, rows)));
        }
        Capture("self_attn.q_proj", 0);
        Capture("self_attn.o_proj", 1);
        Capture("mlp.gate_proj", 2);
        Capture("mlp.down_proj", 3);
        return originals;
    }

    private static void Unwrap(LlamaModel model, int layer, Dictionary<string, ILinear> originals)
    {
        foreach (var (name, inner) in originals) model.ReplaceLinear(name, inner); // the capture wrappers own nothing
    }

    // Quantizes and swaps in the projections named in modules (all seven except with GPTQ's true-sequential passes).
    private static void QuantizeLayer(LlamaModel model, int l, LayerStatistics stats, LayerwiseOptions options, string[] modules)
    {
        string p = $"model.layers.{l}.";
        var linears = model.NamedLinears().Where(x => x.Name.StartsWith(p, StringComparison.Ordinal)).ToDictionary(x => x.Name[p.Length..], x => x.Linear);
        var w = modules.ToDictionary(m => m, m => Host(linears[m]));
        var quantized = new Dictionary<string, GroupQuantized>();
        switch (options.Method)
        {
            case GroupMethod.Rtn:
                foreach (var m in modules) quantized[m] = Rtn.Quantize(w[m].Data, w[m].Rows, w[m].Columns, options.Quant);
                break;
            case GroupMethod.Gptq:
                foreach (var m in modules)
                    quantized[m] = Gptq.Quantize(w[m].Data, w[m].Rows, w[m].Columns, stats.Hessian(SlotOf(m)), options.Gptq);
                break;
            case GroupMethod.Awq:
                AwqLayer.Run(model, l, w, stats, options.Awq, quantized);
                break;
        }
        foreach (var m in modules)
        {
            var old = model.ReplaceLinear(p + m, new QuantLinear(quantized[m].ToTensor(model.Device)));
            old.Dispose();
        }
    }

    /// <summary>The statistics slot of a projection: 0 q/k/v, 1 o, 2 gate/up, 3 down.</summary>
    internal static int SlotOf(string module) => module switch
    {
        "self_attn.q_proj" or "self_attn.k_proj" or "self_attn.v_proj" => 0,
        "self_attn.o_proj" => 1,
        "mlp.gate_proj" or "mlp.up_proj" => 2,
        _ => 3,
    };

    /// <summary>A dense projection's weight [out, in] as a host F32 matrix.</summary>
    internal static HostMatrix Host(ILinear linear) => new(linear.DenseWeight().ToFloatArray(), linear.OutFeatures, linear.InFeatures);
}

/// <summary>The calibration statistics of one layer's four inputs: GPTQ Hessians or AWQ activation rows.</summary>
internal sealed class LayerStatistics
{
    private readonly GptqHessian?[] _hessians = new GptqHessian?[4];
    private readonly List<float[]>[] _rows = [[], [], [], []];
    private readonly int[] _columns;

    public LayerStatistics(GroupMethod method, LlamaLayer layer)
    {
        Method = method;
        _columns = [layer.Attention.QProj.InFeatures, layer.Attention.OProj.InFeatures, layer.Mlp.GateProj.InFeatures, layer.Mlp.DownProj.InFeatures];
    }

    public GroupMethod Method { get; }

    public void Add(int slot, float[] x, int rows)
    {
        if (Method == GroupMethod.Gptq) (_hessians[slot] ??= new GptqHessian(_columns[slot])).Add(x, rows);
        else if (Method == GroupMethod.Awq) _rows[slot].Add(x);
    }

    public GptqHessian Hessian(int slot) => _hessians[slot] ?? throw new InvalidOperationException($"No calibration input reached statistics slot {slot}.");

    /// <summary>All captured rows of a slot as one [n, in] matrix.</summary>
    public HostMatrix Activations(int slot)
    {
        var parts = _rows[slot];
        if (parts.Count == 0) throw new InvalidOperationException($"No calibration input reached statistics slot {slot}.");
        var data = new float[parts.Sum(a => (long)a.Length)];
        long at = 0;
        foreach (var a in parts) { Array.Copy(a, 0, data, at, a.Length); at += a.Length; }
        return new HostMatrix(data, (int)(data.Length / _columns[slot]), _columns[slot]);
    }
}
