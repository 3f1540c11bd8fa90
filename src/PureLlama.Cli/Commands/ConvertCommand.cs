using System.CommandLine;
using PureLlama.IO;
using PureLlama.Tensors;
using PureLlama.Training;

namespace PureLlama.Cli.Commands;

/// <summary><c>purellama convert --model DIR|FILE.gguf --out DIR --dtype bf16|f32</c>: a model folder (dense, NF4, INT8, GPTQ or AWQ) or a GGUF file rewritten as a dense folder in a type.</summary>
internal static class ConvertCommand
{
    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = "model folder, dense or quantized (NF4/INT8/GPTQ/AWQ: dequantized) (config.json, *.safetensors, tokenizer files), or a llama.cpp .gguf file", Required = true };
        var output = new Option<string>("--output", "--out") { Description = "folder for the converted model", Required = true };
        var dtype = new Option<string>("--dtype") { Description = "bf16 | f32 (default bf16)", DefaultValueFactory = _ => "bf16" };
        var cmd = new Command("convert", "Rewrite a model folder or a .gguf file as a dense Hugging Face folder in BF16 or F32 (the F32 weights of a pretraining run; a quantized folder or GGUF dequantized).") { model, output, dtype };
        cmd.SetAction(parse => ModelCliOptions.Guard(() =>
        {
            var target = parse.GetValue(dtype)!.Trim().ToLowerInvariant() switch
            {
                "bf16" or "bfloat16" => DType.BF16,
                "f32" or "float32" => DType.F32,
                var other => throw new ArgumentException($"--dtype must be bf16 or f32, not '{other}'."),
            };
            CheckpointConverter.Convert(parse.GetValue(model)!, parse.GetValue(output)!, target);
            Console.WriteLine($"wrote {parse.GetValue(output)} ({target})");
            return 0;
        }));
        return cmd;
    }
}
