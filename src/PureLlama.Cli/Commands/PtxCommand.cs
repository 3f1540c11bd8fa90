using System.CommandLine;
using PureLlama.Kernels.Gpu.PtxCheck;

namespace PureLlama.Cli.Commands;

/// <summary>
/// <c>purellama ptx --out DIR</c>: compiles every GPU kernel to PTX for sm_90 (no GPU needed) and
/// writes one .ptx file per kernel; scripts/ptx-check.sh then assembles them with ptxas.
/// Exit code 1 when any kernel fails to compile.
/// </summary>
public static class PtxCommand
{
    /// <summary>Builds the command.</summary>
    public static Command Create()
    {
        var output = new Option<string>("--output", "--out", "-o")
        {
            Description = "Folder for the .ptx files (created if missing).",
            DefaultValueFactory = _ => Path.Combine("artifacts", "ptx"),
        };
        var command = new Command("ptx", "Compile every GPU kernel to PTX for sm_90 (ISA 7.8) without a GPU.");
        command.Options.Add(output);
        command.SetAction(parseResult =>
        {
            string dir = parseResult.GetValue(output) ?? Path.Combine("artifacts", "ptx");
            var results = PtxReport.CompileAll(dir);
            int failed = 0;
            foreach (var r in results)
            {
                if (r.Ok) Console.WriteLine($"ok    {r.Kernel}");
                else { failed++; Console.Error.WriteLine($"FAIL  {r.Kernel}: {r.Error}"); }
            }
            Console.WriteLine($"{results.Count - failed}/{results.Count} kernels compiled to PTX in {Path.GetFullPath(dir)}");
            return failed == 0 ? 0 : 1;
        });
        return command;
    }
}
