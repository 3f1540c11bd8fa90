using PureLlama.Llama;
using PureLlama.Tensors;
using PureLlama.Training;

namespace PureLlama.Serving;

/// <summary>
/// The engine's LoRA adapters, loaded from PEFT folders and kept beside the base model (never merged into it):
/// per adapter, per layer and projection, A [r, in], B [out, r] and the scale. A step applies them per row
/// group (<see cref="ForStep"/>): base-model and adapter rows share every base matmul, and each adapter's
/// rows get y += s·(x·Aᵀ)·Bᵀ on top.
/// </summary>
internal sealed class EngineAdapters : IDisposable
{
    // At most this many rows per LoRA kernel call: the fused SIMD kernel (its per-row arithmetic is fixed) rather
    // than the GEMM it switches to for long inputs, so an adapter row's bits do not depend on its group's size.
    private const int RowsPerCall = 63;

    private readonly List<string> _names = [];
    private readonly List<Term?[,]> _terms = [];   // [adapter][layer, module]

    private sealed record Term(Tensor A, Tensor B, float Scale);

    public IReadOnlyList<string> Names => _names;

    public int IndexOf(string name) => _names.IndexOf(name);

    /// <summary>Loads every adapter (the model is wrapped while one loads, then restored).</summary>
    public static EngineAdapters Load(LlamaModel model, IReadOnlyDictionary<string, string> folders)
    {
        var set = new EngineAdapters();
        try
        {
            foreach (var (name, dir) in folders) set.Add(model, name, dir);
            return set;
        }
        catch
        {
            set.Dispose();
            throw;
        }
    }

    private void Add(LlamaModel model, string name, string dir)
    {
        var terms = new Term?[model.Config.NumHiddenLayers, 7];
        _names.Add(name);
        _terms.Add(terms);
        LoraAdapter adapter;
        try { adapter = LoraAdapter.Load(model, dir); }
        catch (Exception e) when (e is IOException or InvalidDataException or ArgumentException or UnauthorizedAccessException)
        {
            throw new ArgumentException($"Adapter '{name}' ({dir}): {e.Message}", nameof(ServingOptions.Adapters), e);
        }
        using (adapter)
        {
            foreach (var (module, layer) in adapter.Layers)
            {
                var (index, kind) = Parse(module) ?? throw new ArgumentException(
                    $"Adapter '{name}' ({dir}) adapts '{module}'; the engine applies LoRA to the decoder projections only (q/k/v/o, gate/up/down).", nameof(ServingOptions.Adapters));
                terms[index, (int)kind] = new Term(layer.A.ContiguousCopy(), layer.B.ContiguousCopy(), layer.Scaling);
            }
            adapter.Detach();
        }
    }

    // model.layers.{i}.self_attn.q_proj → (i, Q)
    private static (int Layer, LoraModule Module)? Parse(string module)
    {
        const string prefix = "model.layers.";
        if (!module.StartsWith(prefix, StringComparison.Ordinal)) return null;
        int dot = module.IndexOf('.', prefix.Length);
        if (dot < 0 || !int.TryParse(module.AsSpan(prefix.Length, dot - prefix.Length), out int layer)) return null;
        LoraModule? kind = module[(dot + 1)..] switch
        {
            "self_attn.q_proj" => LoraModule.Q, "self_attn.k_proj" => LoraModule.K, "self_attn.v_proj" => LoraModule.V,
            "self_attn.o_proj" => LoraModule.O, "mlp.gate_proj" => LoraModule.Gate, "mlp.up_proj" => LoraModule.Up,
            "mlp.down_proj" => LoraModule.Down, _ => null,
        };
        return kind is { } k ? (layer, k) : null;
    }

    /// <summary>The LoRA of one step: groups (adapter, first row, rows), adapter −1 = base (nothing added).</summary>
    public IRowLora? ForStep(IReadOnlyList<(int Adapter, int Row, int Rows)> groups) =>
        groups.Any(g => g.Adapter >= 0) ? new StepLora(this, groups) : null;

    private sealed class StepLora(EngineAdapters set, IReadOnlyList<(int Adapter, int Row, int Rows)> groups) : IRowLora
    {
        public void Apply(int layer, LoraModule module, Tensor x, Tensor y)
        {
            foreach (var (adapter, row, rows) in groups)
            {
                if (adapter < 0 || set._terms[adapter][layer, (int)module] is not { } t) continue;
                for (int r0 = row; r0 < row + rows; r0 += RowsPerCall)
                {
                    int n = Math.Min(RowsPerCall, row + rows - r0);
                    using var xv = x.SliceView(0, r0, n);
                    using var yv = y.SliceView(0, r0, n);
                    using var h = Tensor.Empty(new Shape(n, t.A.Shape[0]), DType.F32, x.Device);
                    x.Backend.LoraForward(xv, t.A, t.B, t.Scale, h, yv);
                }
            }
        }
    }

    public void Dispose()
    {
        foreach (var terms in _terms)
            foreach (var t in terms)
                if (t is not null) { t.A.Dispose(); t.B.Dispose(); }
        _terms.Clear();
    }
}
