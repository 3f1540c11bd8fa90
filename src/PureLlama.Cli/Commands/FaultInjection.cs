using System.Diagnostics;
using System.Globalization;
using PureLlama.Distributed;
using PureLlama.Training;

namespace PureLlama.Cli.Commands;

/// <summary>
/// Failure drills for distributed training (tests and operators checking their setup):
/// <c>PURELLAMA_FAULT_INJECTION=rank=R,step=S,kind=hang|die</c> makes rank R stop answering (hang) or kill itself
/// (die, as a crash or an OOM kill would) just before step S. Unset, nothing changes.
/// </summary>
internal static class FaultInjection
{
    public const string Variable = "PURELLAMA_FAULT_INJECTION";

    public static void Install(Trainer trainer, ICommunicator comm)
    {
        if (Environment.GetEnvironmentVariable(Variable) is not { Length: > 0 } spec) return;
        var fields = spec.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)
            .Select(f => f.Split('=', 2)).ToDictionary(kv => kv[0], kv => kv.Length > 1 ? kv[1] : "");
        int Field(string name) => fields.TryGetValue(name, out var v) && int.TryParse(v, NumberStyles.None, CultureInfo.InvariantCulture, out int n) ? n
            : throw new ArgumentException($"{Variable} needs {name}=N (got '{spec}').");
        int rank = Field("rank"), step = Field("step");
        string kind = fields.TryGetValue("kind", out var k) ? k : "die";
        if (kind is not ("hang" or "die")) throw new ArgumentException($"{Variable}: kind must be hang or die, not '{kind}'.");
        if (comm.Rank != rank) return;
        trainer.BeforeStep = n =>
        {
            if (n != step) return;
            Console.Error.WriteLine($"fault injection: rank {rank} {(kind == "hang" ? "hangs" : "dies")} before step {step}");
            Console.Error.Flush();
            if (kind == "hang") Thread.Sleep(Timeout.Infinite);
            Process.GetCurrentProcess().Kill();
        };
    }
}
