using PureLlama.IO;
using PureLlama.Nn;
using PureLlama.Tensors;

namespace PureLlama.Llama;

public sealed partial class LlamaModel
{
    /// <summary>
    /// Builds the model from a checkpoint: checks every tensor against <paramref name="config"/>
    /// (missing, unexpected or mis-shaped tensors name the tensor and file), keeps F32 and BF16 weights
    /// as stored (F16 is widened to F32), and moves them to <paramref name="device"/> when it is not the CPU.
    /// </summary>
    public static LlamaModel Load(HfCheckpoint checkpoint, LlamaConfig config, Device device)
    {
        ArgumentNullException.ThrowIfNull(checkpoint);
        ArgumentNullException.ThrowIfNull(config);
        config.CheckConsistency(checkpoint.ConfigPath);
        config.Validate(checkpoint);
        using var weights = Kernels.Simd.HugePages.ForWeights();
        return Build(config, device, (name, shape) => checkpoint.GetTensor(name, shape, DType.F32, DType.BF16, DType.F16));
    }

    /// <summary>
    /// Builds the model from a weight source: <paramref name="weight"/>(name, expected shape) returns a
    /// new tensor handle in Hugging Face name and layout (the model takes ownership).
    /// </summary>
    public static LlamaModel Build(LlamaConfig config, Device device, Func<string, Shape, Tensor> weight)
        => Build(config, device, weight, null);

    /// <summary>
    /// As <see cref="Build(LlamaConfig, Device, Func{string, Shape, Tensor})"/>, with the projections made by
    /// <paramref name="linear"/>(module name, weight shape [out, in]) — e.g. quantized layers — where it
    /// returns a layer, and dense <see cref="Linear"/> layers over <paramref name="weight"/> where it returns null.
    /// Module names are those of <see cref="NamedLinears"/> (model.layers.{i}.self_attn.q_proj …, lm_head);
    /// a tied lm_head is always the embedding table.
    /// </summary>
    public static LlamaModel Build(LlamaConfig config, Device device, Func<string, Shape, Tensor> weight, Func<string, Shape, ILinear?>? linear)
        => Build(config, device, weight, linear, null);

    /// <summary>
    /// As above, with the token embedding made by <paramref name="embedding"/>(shape [vocab, hidden]) where it returns
    /// one (e.g. a GGUF file's block-format token_embd gathered row by row), else a dense table from <paramref name="weight"/>.
    /// </summary>
    internal static LlamaModel Build(LlamaConfig config, Device device, Func<string, Shape, Tensor> weight, Func<string, Shape, ILinear?>? linear,
        Func<Shape, Embedding?>? embedding)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(weight);
        config.CheckConsistency();
        int c = config.HiddenSize, inter = config.IntermediateSize;
        float eps = (float)config.RmsNormEps;
        var owned = new List<IDisposable>();
        Tensor Get(string name, Shape shape)
        {
            var t = Prepare(weight(name, shape), name, shape, device);
            owned.Add(t);
            return t;
        }
        ILinear Proj(string module, Shape shape)
        {
            if (linear?.Invoke(module, shape) is not { } made) return new Linear(Get(module + ".weight", shape));
            owned.Add(made);
            Prepack(made);
            if (made.OutFeatures != shape[0] || made.InFeatures != shape[1])
                throw new InvalidDataException($"Layer '{module}' was built as [{made.OutFeatures}, {made.InFeatures}]; {shape} was expected.");
            return made;
        }
        try
        {
            var embedShape = new Shape(config.VocabSize, c);
            Embedding embed;
            if (embedding?.Invoke(embedShape) is { } madeEmbed)
            {
                owned.Add(madeEmbed);
                if (madeEmbed.VocabSize != embedShape[0] || madeEmbed.Dim != embedShape[1])
                    throw new InvalidDataException($"The token embedding was built as [{madeEmbed.VocabSize}, {madeEmbed.Dim}]; {embedShape} was expected.");
                embed = madeEmbed;
            }
            else embed = new Embedding(Get("model.embed_tokens.weight", embedShape));
            var layers = new List<LlamaLayer>(config.NumHiddenLayers);
            for (int i = 0; i < config.NumHiddenLayers; i++)
            {
                string p = $"model.layers.{i}.";
                var attention = new LlamaAttention(
                    Proj(p + "self_attn.q_proj", new Shape(config.QueryDim, c)),
                    Proj(p + "self_attn.k_proj", new Shape(config.KeyValueDim, c)),
                    Proj(p + "self_attn.v_proj", new Shape(config.KeyValueDim, c)),
                    Proj(p + "self_attn.o_proj", new Shape(c, config.QueryDim)),
                    config.NumAttentionHeads, config.NumKeyValueHeads, config.HeadDim);
                var mlp = new LlamaMlp(
                    Proj(p + "mlp.gate_proj", new Shape(inter, c)),
                    Proj(p + "mlp.up_proj", new Shape(inter, c)),
                    Proj(p + "mlp.down_proj", new Shape(c, inter)), config.HiddenActivation);
                layers.Add(new LlamaLayer(i,
                    new RmsNormLayer(Get(p + "input_layernorm.weight", new Shape(c)), eps), attention,
                    new RmsNormLayer(Get(p + "post_attention_layernorm.weight", new Shape(c)), eps), mlp));
            }
            var norm = new RmsNormLayer(Get("model.norm.weight", new Shape(c)), eps);
            ILinear lmHead;
            if (config.TieWordEmbeddings && linear?.Invoke("lm_head", new Shape(config.VocabSize, c)) is { } madeHead)
            {
                owned.Add(madeHead);  // e.g. a quantized copy of the tied table (the embedding gather keeps the dense one)
                Prepack(madeHead);
                lmHead = madeHead;
            }
            else if (config.TieWordEmbeddings)
            {
                // A second handle on the embedding table: lm_head = embed_tokensᵀ, no copy.
                var table = embed.Table;
                var tied = table.ViewWith(table.Shape, table.Shape.ContiguousStrides(), table.Offset);
                tied.Name = "lm_head.weight (tied to model.embed_tokens.weight)";
                owned.Add(tied);
                lmHead = new Linear(tied);
            }
            else lmHead = Proj("lm_head", new Shape(config.VocabSize, c));
            return new LlamaModel(config, embed, layers, norm, lmHead, device);
        }
        catch
        {
            foreach (var o in owned) o.Dispose();
            throw;
        }
    }

    // F32/BF16 stay as stored; F16 widens to F32; then to the device.
    private static Tensor Prepare(Tensor t, string name, Shape shape, Device device)
    {
        if (t.Shape != shape)
        {
            var got = t.Shape;
            t.Dispose();
            throw new InvalidDataException($"Weight '{name}' has shape {got}; {shape} was expected.");
        }
        if (t.DType == DType.F16)
        {
            var widened = t.To(DType.F32);
            t.Dispose();
            t = widened;
        }
        else if (t.DType is not (DType.F32 or DType.BF16))
        {
            var dt = t.DType;
            t.Dispose();
            throw new InvalidDataException($"Weight '{name}' is {dt}; F32, BF16 or F16 was expected.");
        }
        if (t.Device != device)
        {
            var moved = t.To(device);
            t.Dispose();
            t = moved;
        }
        t.Name ??= name;
        return t;
    }
}
