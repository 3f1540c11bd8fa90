using System.Text.Json.Nodes;
using PureLlama.Quantization;
using PureLlama.Tensors;

namespace PureLlama.Tests.IO;

/// <summary>config.json's quantization_config in the shape of transformers' BitsAndBytesConfig.</summary>
public sealed class QuantizationConfigTests
{
    private static string ConfigWith(JsonNode q) => new JsonObject { ["model_type"] = "llama", [QuantizationConfig.FieldName] = q }.ToJsonString();

    [Theory]
    [InlineData("gptq")]
    [InlineData("awq")]
    public void Int4MethodsAreLeftToTheirOwnReader(string method) =>
        QuantizationConfig.FromConfigJson($"{{\"quantization_config\": {{\"quant_method\": \"{method}\", \"bits\": 4}}}}", "dir/config.json")
            .Should().BeNull("GPTQ/AWQ folders are read by Int4CheckpointConfig");

    [Fact]
    public void WrittenJsonReadsBack()
    {
        foreach (var c in new[] { QuantizationConfig.Nf4(), QuantizationConfig.Nf4(doubleQuant: false), QuantizationConfig.Int8() })
        {
            var json = c.ToJson();
            json["quant_method"]!.GetValue<string>().Should().Be("bitsandbytes");
            json["load_in_4bit"]!.GetValue<bool>().Should().Be(c.Format == QuantFormat.Nf4);
            var read = QuantizationConfig.FromConfigJson(ConfigWith(json))!;
            read.Format.Should().Be(c.Format);
            read.DoubleQuant.Should().Be(c.DoubleQuant && c.Format == QuantFormat.Nf4);
            read.SkipModules.Should().Equal("lm_head");
        }
    }

    [Fact]
    public void ReadsHuggingFaceConfigAndDefaults()
    {
        // As transformers writes it for a QLoRA model (skip modules null: lm_head stays dense).
        const string hf = """
            {"model_type": "llama", "quantization_config": {"_load_in_4bit": true, "_load_in_8bit": false, "bnb_4bit_compute_dtype": "bfloat16",
             "bnb_4bit_quant_storage": "uint8", "bnb_4bit_quant_type": "nf4", "bnb_4bit_use_double_quant": true,
             "llm_int8_enable_fp32_cpu_offload": false, "llm_int8_has_fp16_weight": false, "llm_int8_skip_modules": null,
             "llm_int8_threshold": 6.0, "load_in_4bit": true, "load_in_8bit": false, "quant_method": "bitsandbytes"}}
            """;
        var c = QuantizationConfig.FromConfigJson(hf)!;
        c.Format.Should().Be(QuantFormat.Nf4);
        c.DoubleQuant.Should().BeTrue();
        c.ComputeDType.Should().Be("bfloat16");
        c.Skips("lm_head").Should().BeTrue();
        c.Skips("model.layers.0.self_attn.q_proj").Should().BeFalse();
        QuantizationConfig.FromConfigJson("""{"model_type": "llama"}""").Should().BeNull();
    }

    [Fact]
    public void SkipModulesMatchWholeDottedComponents()
    {
        var c = QuantizationConfig.Nf4() with { SkipModules = ["lm_head", "mlp.down_proj", "layers.1"] };
        c.Skips("model.layers.3.mlp.down_proj").Should().BeTrue();
        c.Skips("model.layers.3.mlp.up_proj").Should().BeFalse();
        c.Skips("model.layers.1.self_attn.q_proj").Should().BeTrue();
        c.Skips("model.layers.11.self_attn.q_proj").Should().BeFalse();
    }

    [Theory]
    [InlineData("""{"quant_method": "hqq", "bits": 4}""", "quant_method")]
    [InlineData("""{"quant_method": "bitsandbytes", "load_in_4bit": true}""", "bnb_4bit_quant_type")]
    [InlineData("""{"quant_method": "bitsandbytes", "load_in_4bit": true, "bnb_4bit_quant_type": "fp4"}""", "fp4")]
    [InlineData("""{"quant_method": "bitsandbytes", "load_in_4bit": true, "load_in_8bit": true}""", "both true")]
    [InlineData("""{"quant_method": "bitsandbytes"}""", "one must be true")]
    [InlineData("""{"load_in_8bit": true, "llm_int8_skip_modules": "lm_head"}""", "llm_int8_skip_modules")]
    [InlineData("""{"load_in_8bit": true, "llm_int8_has_fp16_weight": true}""", "16-bit")]
    public void BadConfigsAreNamed(string q, string messagePart)
    {
        var act = () => QuantizationConfig.FromConfigJson($"{{\"quantization_config\": {q}}}", "dir/config.json");
        act.Should().Throw<InvalidDataException>().WithMessage($"*{messagePart}*").WithMessage("*dir/config.json*");
    }

    [Fact]
    public void FormatNamesListTheChoices()
    {
        QuantizationConfig.ParseFormat("NF4").Should().Be(QuantFormat.Nf4);
        QuantizationConfig.ParseFormat("int8").Should().Be(QuantFormat.Int8);
        FluentActions.Invoking(() => QuantizationConfig.ParseFormat("q4_0")).Should().Throw<ArgumentException>().WithMessage("*nf4, int8*'q4_0'*");
    }
}
