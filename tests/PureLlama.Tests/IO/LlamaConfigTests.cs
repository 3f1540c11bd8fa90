using PureLlama.Kernels.Simd;
using PureLlama.Llama;

namespace PureLlama.Tests.IO;

public class LlamaConfigTests
{
    private const string Base = """
        {"architectures":["LlamaForCausalLM"],"model_type":"llama","vocab_size":128256,"hidden_size":2048,"intermediate_size":8192,
         "num_hidden_layers":16,"num_attention_heads":32,"num_key_value_heads":8,"rms_norm_eps":1e-5,"rope_theta":500000.0,
         "rope_scaling":{"factor":32.0,"high_freq_factor":4.0,"low_freq_factor":1.0,"original_max_position_embeddings":8192,"rope_type":"llama3"},
         "tie_word_embeddings":true,"max_position_embeddings":131072,"bos_token_id":128000,"eos_token_id":[128001,128008,128009],
         "torch_dtype":"bfloat16","attention_bias":false,"mlp_bias":false,"hidden_act":"silu","head_dim":64}
        """;

    [Fact]
    public void Llama_3_2_1B_config_parses()
    {
        var c = LlamaConfig.Parse(Base, "1b/config.json");
        c.HeadDim.Should().Be(64);
        c.GroupSize.Should().Be(4);
        c.KeyValueDim.Should().Be(512);
        c.RopeScaling.Should().Be(new Llama3RopeScaling(32, 1, 4, 8192));
        c.TieWordEmbeddings.Should().BeTrue();
        c.EosTokenIds.Should().Equal(128001, 128008, 128009);
        c.BosTokenId.Should().Be(128000);
        c.MaxPositionEmbeddings.Should().Be(131072);
        c.WeightDType.Should().Be(PureLlama.Tensors.DType.BF16);
        var expected = c.ExpectedTensors();
        expected.Should().HaveCount(1 + 16 * 9 + 1);
        expected.Should().NotContain(t => t.Name == "lm_head.weight");
        expected.Single(t => t.Name == "model.layers.15.self_attn.o_proj.weight").Shape.Should().Be(new PureLlama.Tensors.Shape(2048, 2048));
        expected.Single(t => t.Name == "model.layers.0.mlp.down_proj.weight").Shape.Should().Be(new PureLlama.Tensors.Shape(2048, 8192));
    }

    [Fact]
    public void Defaults_follow_transformers()
    {
        var c = LlamaConfig.Parse("""{"vocab_size":10,"hidden_size":8,"intermediate_size":16,"num_hidden_layers":1,"num_attention_heads":2,"eos_token_id":3,"rope_scaling":null}""");
        c.NumKeyValueHeads.Should().Be(2);
        c.HeadDim.Should().Be(4);
        c.RmsNormEps.Should().Be(1e-6);
        c.RopeTheta.Should().Be(10000);
        c.RopeScaling.Should().BeNull();
        c.EosTokenIds.Should().Equal(3);
        c.BosTokenId.Should().BeNull();
        c.TieWordEmbeddings.Should().BeFalse();
        c.ExpectedTensors().Should().Contain(t => t.Name == "lm_head.weight");
    }

    [Theory]
    [InlineData("\"num_key_value_heads\":8", "\"num_key_value_heads\":5", "num_key_value_heads", "does not divide")]
    [InlineData("\"rope_type\":\"llama3\"", "\"rope_type\":\"yarn\"", "rope_scaling", "unsupported rope_scaling type 'yarn'")]
    [InlineData("\"high_freq_factor\":4.0,", "", "rope_scaling.high_freq_factor", "missing")]
    [InlineData("\"factor\":32.0", "\"factor\":-1", "rope_scaling.factor", "-1")]
    [InlineData("\"hidden_size\":2048", "\"hidden_size\":0", "hidden_size", "≥ 1")]
    [InlineData("\"vocab_size\":128256,", "", "vocab_size", "required")]
    [InlineData("\"intermediate_size\":8192", "\"intermediate_size\":\"big\"", "intermediate_size", "\"big\"")]
    [InlineData("\"model_type\":\"llama\"", "\"model_type\":\"mistral\"", "model_type", "mistral")]
    [InlineData("[\"LlamaForCausalLM\"]", "[\"GPT2LMHeadModel\"]", "architectures", "GPT2LMHeadModel")]
    [InlineData("\"attention_bias\":false", "\"attention_bias\":true", "attention_bias", "true")]
    [InlineData("\"mlp_bias\":false", "\"mlp_bias\":true", "mlp_bias", "true")]
    [InlineData("\"hidden_act\":\"silu\"", "\"hidden_act\":\"relu\"", "hidden_act", "relu")]
    [InlineData("\"hidden_act\":\"silu\"", "\"hidden_activation\":\"tanh\"", "hidden_activation", "gelu_pytorch_tanh")]
    [InlineData("\"rms_norm_eps\":1e-5", "\"rms_norm_eps\":-1", "rms_norm_eps", "-1")]
    [InlineData("\"torch_dtype\":\"bfloat16\"", "\"torch_dtype\":\"float64\"", "torch_dtype", "float64")]
    [InlineData("[128001,128008,128009]", "[128001,\"x\"]", "eos_token_id", "\"x\"")]
    [InlineData("[128001,128008,128009]", "[999999]", "eos_token_id", "999999")]
    [InlineData("\"head_dim\":64", "\"head_dim\":63", "head_dim", "even")]
    [InlineData("\"tie_word_embeddings\":true", "\"tie_word_embeddings\":\"yes\"", "tie_word_embeddings", "true or false")]
    public void Bad_field_is_named_with_the_file(string find, string replace, string field, string inMessage)
    {
        Base.Should().Contain(find);
        var act = () => LlamaConfig.Parse(Base.Replace(find, replace), "models/x/config.json");
        var e = act.Should().Throw<InvalidDataException>().Which;
        e.Message.Should().Contain($"'{field}'").And.Contain("models/x/config.json").And.Contain(inMessage);
    }

    [Fact]
    public void Heads_must_divide_hidden_when_head_dim_is_absent()
    {
        var act = () => LlamaConfig.Parse(Base.Replace(",\"head_dim\":64", "").Replace("\"hidden_size\":2048", "\"hidden_size\":2050"), "c.json");
        act.Should().Throw<InvalidDataException>().WithMessage("*'num_attention_heads'*c.json*does not divide hidden_size 2050*");
    }

    [Fact]
    public void Bad_json_is_named()
    {
        var act = () => LlamaConfig.Parse("{\"vocab_size\": ", "broken/config.json");
        act.Should().Throw<InvalidDataException>().WithMessage("*broken/config.json*not valid JSON*");
        var missing = () => LlamaConfig.FromFile("/nonexistent/config.json");
        missing.Should().Throw<FileNotFoundException>();
    }

    [Theory]
    [InlineData("silu", "silu")]
    [InlineData("gelu", "gelu")]
    [InlineData("gelu_pytorch_tanh", "gelu-tanh")]
    [InlineData("gelu_new", "gelu-tanh")]
    public void Hidden_act_picks_the_mlp_activation(string configName, string op) =>
        LlamaConfig.Parse(Base.Replace("\"hidden_act\":\"silu\"", $"\"hidden_act\":\"{configName}\"")).HiddenActivation.Name.Should().Be(op);

    [Fact]
    public void Hidden_activation_wins_over_hidden_act() =>
        LlamaConfig.Parse(Base.Replace("\"hidden_act\":\"silu\"", "\"hidden_act\":\"silu\",\"hidden_activation\":\"gelu\""))
            .HiddenActivation.Name.Should().Be("gelu");

    [Fact]
    public void Default_rope_type_means_no_scaling()
        => LlamaConfig.Parse(Base.Replace("\"rope_type\":\"llama3\"", "\"rope_type\":\"default\"")).RopeScaling.Should().BeNull();

    [Fact]
    public void Config_built_in_code_is_checked_too()
    {
        var c = LlamaConfig.Parse(Base) with { NumKeyValueHeads = 3 };
        var act = () => c.CheckConsistency("my config");
        act.Should().Throw<InvalidDataException>().WithMessage("*'num_key_value_heads'*my config*");
    }
}

public class GenerationConfigTests
{
    [Fact]
    public void Llama_instruct_generation_config_parses()
    {
        var g = GenerationConfig.Parse("""{"bos_token_id":128000,"do_sample":true,"eos_token_id":[128001,128008,128009],"temperature":0.6,"top_p":0.9,"transformers_version":"4.45.0.dev0"}""");
        g.DoSample.Should().BeTrue();
        g.Temperature.Should().Be(0.6);
        g.TopP.Should().Be(0.9);
        g.TopK.Should().Be(50);
        g.MinP.Should().BeNull();
        g.RepetitionPenalty.Should().Be(1.0);
        g.EosTokenIds.Should().Equal(128001, 128008, 128009);
        g.BosTokenId.Should().Be(128000);
        g.MaxNewTokens.Should().BeNull();
    }

    [Fact]
    public void All_fields_parse()
    {
        var g = GenerationConfig.Parse("""{"do_sample":false,"temperature":0,"top_k":0,"top_p":1,"min_p":0.05,"repetition_penalty":1.1,"max_new_tokens":64,"max_length":4096,"eos_token_id":2,"pad_token_id":0}""");
        g.Should().BeEquivalentTo(new GenerationConfig
        {
            DoSample = false, Temperature = 0, TopK = 0, TopP = 1, MinP = 0.05, RepetitionPenalty = 1.1,
            MaxNewTokens = 64, MaxLength = 4096, EosTokenIds = [2], PadTokenId = 0,
        });
    }

    [Theory]
    [InlineData("""{"temperature":-0.5}""", "temperature")]
    [InlineData("""{"top_p":0}""", "top_p")]
    [InlineData("""{"top_p":1.5}""", "top_p")]
    [InlineData("""{"top_k":-1}""", "top_k")]
    [InlineData("""{"min_p":2}""", "min_p")]
    [InlineData("""{"repetition_penalty":0}""", "repetition_penalty")]
    [InlineData("""{"max_new_tokens":0}""", "max_new_tokens")]
    [InlineData("""{"do_sample":"yes"}""", "do_sample")]
    [InlineData("""{"eos_token_id":"</s>"}""", "eos_token_id")]
    public void Bad_field_is_named_with_the_file(string json, string field)
    {
        var act = () => GenerationConfig.Parse(json, "m/generation_config.json");
        act.Should().Throw<InvalidDataException>().WithMessage($"*'{field}'*m/generation_config.json*");
    }
}
