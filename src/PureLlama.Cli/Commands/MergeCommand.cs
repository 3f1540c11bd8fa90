using System.CommandLine;
using PureLlama.Tensors;
using PureLlama.Training;

namespace PureLlama.Cli.Commands;

/// <summary><c>purellama merge</c>: fold a PEFT LoRA adapter into its base model and write a plain HF checkpoint.</summary>
internal static class MergeCommand
{
    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = "base model folder, dense or quantized (NF4/INT8/GPTQ/AWQ: merged into the dequantized weights)", Required = true };
        var adapter = new Option<string>("--adapter") { Description = "PEFT LoRA adapter folder (adapter_config.json, adapter_model.safetensors)", Required = true };
        var output = new Option<string>("--output", "--out") { Description = "folder for the merged checkpoint (model.safetensors, config.json, tokenizer files)", Required = true };
        var dtype = new Option<string?>("--dtype") { Description = "bf16 | f32 (default: the base model's torch_dtype; bf16 for bfloat16, else f32)" };
        var device = DeviceOption.Create();
        var command = new Command("merge", "Merge a LoRA adapter into its base model (W' = W + s·B·A, quantized bases dequantized first).");
        command.Options.Add(model); command.Options.Add(adapter); command.Options.Add(output); command.Options.Add(dtype); command.Options.Add(device);
        command.SetAction(parse => ModelCliOptions.Guard(() =>
        {
            DType? target = parse.GetValue(dtype)?.Trim().ToLowerInvariant() switch
            {
                null => null,
                "bf16" or "bfloat16" => DType.BF16,
                "f32" or "float32" => DType.F32,
                var other => throw new ArgumentException($"--dtype must be bf16 or f32, not '{other}'."),
            };
            string summary = LoraMerge.WriteMergedCheckpoint(parse.GetValue(model)!, parse.GetValue(adapter)!, parse.GetValue(output)!,
                target, DeviceOption.Resolve(parse.GetValue(device)));
            Console.Error.WriteLine($"adapter: {summary}");
            Console.WriteLine($"merged checkpoint written to {parse.GetValue(output)}");
            return 0;
        }));
        return command;
    }
}
