using System.Text.Json;
using PureLlama.Llama;
using PureLlama.Quantization;
using PureLlama.Tensors;
using PureLlama.Tests.Shared;

namespace PureLlama.Tests.Quantization;

/// <summary>
/// The quantization_config that <c>purellama quantize --format nf4|int8</c> writes, read with the types Python's json
/// gives (a number with a fraction or exponent is a float, otherwise an int) and checked against transformers'
/// BitsAndBytesConfig.post_init rules: llm_int8_threshold float, the flags bool, skip modules a list, the 4-bit fields strings.
/// </summary>
public class BitsAndBytesConfigTypeTests
{
    private static string PythonType(JsonElement e) => e.ValueKind switch
    {
        JsonValueKind.Number => e.GetRawText().IndexOfAny(['.', 'e', 'E']) >= 0 ? "float" : "int",
        JsonValueKind.String => "str",
        JsonValueKind.True or JsonValueKind.False => "bool",
        JsonValueKind.Array => "list",
        JsonValueKind.Null => "None",
        _ => "dict",
    };

    [Theory]
    [InlineData("nf4")]
    [InlineData("int8")]
    public void Written_config_passes_BitsAndBytesConfig_type_checks(string format)
    {
        string dir = Path.Combine(Path.GetTempPath(), "purellama-bnb-" + Guid.NewGuid().ToString("N"));
        try
        {
            CheckpointQuantizer.Quantize(RepoPaths.DemoModel, dir, format == "nf4" ? QuantizationConfig.Nf4() : QuantizationConfig.Int8());
            using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "config.json")));
            var q = doc.RootElement.GetProperty("quantization_config");
            var expected = new Dictionary<string, string>
            {
                ["llm_int8_threshold"] = "float",
                ["llm_int8_skip_modules"] = "list",
                ["llm_int8_enable_fp32_cpu_offload"] = "bool",
                ["llm_int8_has_fp16_weight"] = "bool",
                ["bnb_4bit_compute_dtype"] = "str",
                ["bnb_4bit_quant_type"] = "str",
                ["bnb_4bit_use_double_quant"] = "bool",
                ["bnb_4bit_quant_storage"] = "str",
                ["load_in_4bit"] = "bool",
                ["load_in_8bit"] = "bool",
                ["quant_method"] = "str",
            };
            foreach (var (field, type) in expected)
                PythonType(q.GetProperty(field)).Should().Be(type, $"transformers requires {field} to be a {type}");
            q.GetProperty("llm_int8_threshold").GetDouble().Should().Be(6.0);
            QuantizationConfig.FromConfigFile(Path.Combine(dir, "config.json"))!.Format.Should().Be(format == "nf4" ? QuantFormat.Nf4 : QuantFormat.Int8);
        }
        finally
        {
            if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
        }
    }
}
