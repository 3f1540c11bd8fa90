using System.CommandLine;
using PureLlama.Cli.Demo;
using PureLlama.Cli.Display;

namespace PureLlama.Cli.Commands;

/// <summary>
/// <c>purellama demo</c>: the first run. Loads the demo model shipped in models/demo (found from the current
/// folder or the executable's), fine-tunes it for structured extraction and shows held-out scores and
/// answers before and after (<see cref="DemoPipeline"/>).
/// </summary>
internal static class DemoCommand
{
    public static Command Create()
    {
        var defaults = new DemoOptions { ModelDirectory = "", OutputDirectory = "" };
        var model = new Option<string?>("--model") { Description = "the demo model folder (default: models/demo of the repository)" };
        var steps = new Option<int>("--steps") { Description = $"fine-tuning steps (default {defaults.Steps})", DefaultValueFactory = _ => defaults.Steps };
        var seed = new Option<ulong>("--seed") { Description = $"seed of the data order (default {defaults.Seed})", DefaultValueFactory = _ => defaults.Seed };
        var output = new Option<string>("--output") { Description = "folder for the checkpoints, the fine-tuned model and the pictures (default: demo-output)", DefaultValueFactory = _ => "demo-output" };
        var device = DeviceOption.Create();
        var lr = new Option<float>("--lr") { Description = $"peak learning rate (default {defaults.LearningRate.ToString(System.Globalization.CultureInfo.InvariantCulture)})", DefaultValueFactory = _ => defaults.LearningRate };
        var cmd = new Command("demo", "The first run: fine-tune the bundled demo model to extract court records as JSON; held-out scores before and after.")
        {
            model, steps, seed, output, device, lr,
        };
        cmd.SetAction(parse => ModelCliOptions.Guard(() =>
        {
            string dir = parse.GetValue(model) ?? DemoPipeline.FindModelDirectory()
                ?? throw new FileNotFoundException($"Cannot find {DemoPipeline.RelativeModelDirectory} from '{Directory.GetCurrentDirectory()}' or '{AppContext.BaseDirectory}'; run from the repository or pass --model.");
            var options = new DemoOptions
            {
                ModelDirectory = dir, OutputDirectory = parse.GetValue(output)!, Steps = parse.GetValue(steps), Seed = parse.GetValue(seed),
                Device = DeviceOption.Resolve(parse.GetValue(device)),
                LearningRate = parse.GetValue(lr),
            };
            if (options.Steps < 1) throw new ArgumentException($"--steps must be at least 1, not {options.Steps}.");
            if (!(options.LearningRate > 0) || !float.IsFinite(options.LearningRate)) throw new ArgumentException($"--lr must be a positive number, not {options.LearningRate}.");
            var result = DemoPipeline.Run(options, Console.Out, TrainingProgress.ForConsole());
            Console.Write(DemoPipeline.Summary(result));
            return 0;
        }));
        return cmd;
    }
}
