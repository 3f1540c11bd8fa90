using System.CommandLine;
using PureLlama.Llama;
using PureLlama.Training;

namespace PureLlama.Cli.Commands;

/// <summary>
/// <c>purellama export-gguf --model DIR|FILE --type f16|bf16|q8_0|q4_0|q4_k_m --out FILE</c>: a GGUF file llama.cpp runs
/// (<see cref="GgufExporter"/>); with <c>--adapter DIR</c>, the PEFT adapter as a GGUF LoRA adapter for llama.cpp's --lora.
/// </summary>
internal static class ExportGgufCommand
{
    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = "model folder (dense, merged, NF4/INT8/GPTQ/AWQ) or .gguf file", Required = true };
        var type = new Option<string>("--type") { Description = "f32 | f16 | bf16 | q8_0 | q4_0 | q4_k_m (llama-quantize's tensor mix); ignored with --adapter", DefaultValueFactory = _ => "f16" };
        var output = new Option<string>("--output", "--out") { Description = "the .gguf file to write (replaced atomically)", Required = true };
        var adapter = new Option<string?>("--adapter") { Description = "PEFT LoRA adapter folder: write it as a GGUF LoRA adapter (llama.cpp --lora) instead of the model" };
        var name = new Option<string?>("--name") { Description = "general.name (default: the source GGUF's, else the folder's name)" };
        var command = new Command("export-gguf", "Write a model, or a LoRA adapter, as a GGUF file that llama.cpp loads.") { model, type, output, adapter, name };
        command.SetAction(parse => ModelCliOptions.Guard(() =>
        {
            string summary = parse.GetValue(adapter) is { } adapterDir
                ? GgufLoraExporter.Export(parse.GetValue(model)!, adapterDir, parse.GetValue(output)!)
                : GgufExporter.Export(parse.GetValue(model)!, ParseType(parse.GetValue(type)!), parse.GetValue(output)!, parse.GetValue(name));
            Console.WriteLine($"wrote {parse.GetValue(output)}: {summary}");
            return 0;
        }));
        return command;
    }

    internal static GgufExportType ParseType(string text) => text.Trim().ToLowerInvariant() switch
    {
        "f32" => GgufExportType.F32,
        "f16" => GgufExportType.F16,
        "bf16" => GgufExportType.BF16,
        "q8_0" => GgufExportType.Q8_0,
        "q4_0" => GgufExportType.Q4_0,
        "q4_k_m" => GgufExportType.Q4_K_M,
        _ => throw new ArgumentException($"--type must be f32, f16, bf16, q8_0, q4_0 or q4_k_m, not '{text}'."),
    };
}
