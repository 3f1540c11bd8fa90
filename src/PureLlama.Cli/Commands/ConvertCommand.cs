using System.CommandLine;
using PureLlama.IO;
using PureLlama.Tensors;
using PureLlama.Training;

namespace PureLlama.Cli.Commands;

/// <summary><c>purellama convert --model DIR --out DIR --dtype bf16|f32</c>: a dense model folder rewritten in another type.</summary>
internal static class ConvertCommand
{
    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = "dense model folder (config.json, *.safetensors, tokenizer files)", Required = true };
        var output = new Option<string>("--output", "--out") { Description = "folder for the converted model", Required = true };
        var dtype = new Option<string>("--dtype") { Description = "bf16 | f32 (default bf16)", DefaultValueFactory = _ => "bf16" };
        var cmd = new Command("convert", "Rewrite a dense model folder as BF16 or F32 (e.g. the F32 weights of a pretraining run).") { model, output, dtype };
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
