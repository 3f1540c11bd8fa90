using System.Diagnostics;
using PureLlama.Tests.Shared;
using PureLlama.Training;
using Xunit.Abstractions;

namespace PureLlama.Tests.Distributed;

/// <summary>
/// Real Open MPI: <c>mpirun -np 2 purellama finetune …</c> on loopback against the same run in one process, a resume
/// after a rank died (on 2 ranks and on 1), a hung rank named by the collective timeout, and the error when Open MPI is
/// missing. Skipped where mpirun is not installed, except under CI=true (.ci/run installs Open MPI), where that fails.
/// </summary>
[Collection("mpirun")]
public class MpiTrainingTests(ITestOutputHelper output)
{
    private static readonly string Root = RepoPaths.Root;
    private static readonly string Cli = Path.Combine(AppContext.BaseDirectory, "PureLlama.Cli.dll");
    private static readonly string[] Common =
    [
        "finetune", "--model", Path.Combine(Root, "models", "demo"), "--data", Path.Combine(Root, "models", "demo", "instructions.jsonl"),
        "--max-seq-length", "48", "--lr", "2e-3", "--grad-accum", "4", "--seed", "5",
    ];

    private static string? MpiRun()
    {
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries))
            if (File.Exists(Path.Combine(dir, "mpirun"))) return Path.Combine(dir, "mpirun");
        return null;
    }

    private static string RequireMpi()
    {
        var mpirun = MpiRun();
        if (mpirun is not null) return mpirun;
        if (IO.Fixtures.InCi) Assert.Fail("mpirun is not installed (.ci/run installs openmpi-bin)");
        throw new SkipTestException("mpirun (Open MPI) is not installed: apt-get install openmpi-bin libopenmpi-dev");
    }

    private (int Exit, string Out, string Err) Run(int ranks, IEnumerable<string> args, string? fault = null, int timeoutSeconds = 600)
    {
        var psi = ranks == 0 ? new ProcessStartInfo("dotnet") : new ProcessStartInfo(RequireMpi());
        if (ranks > 0) foreach (var a in new[] { "--allow-run-as-root", "--oversubscribe", "--bind-to", "none", "-np", ranks.ToString(), "-x", "PURELLAMA_THREADS", "-x", "PURELLAMA_FAULT_INJECTION", "dotnet" }) psi.ArgumentList.Add(a);
        psi.ArgumentList.Add(Cli);
        foreach (var a in args) psi.ArgumentList.Add(a);
        psi.RedirectStandardOutput = psi.RedirectStandardError = true;
        psi.Environment["PURELLAMA_THREADS"] = "1";
        psi.Environment["PURELLAMA_FAULT_INJECTION"] = fault ?? "";
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(timeoutSeconds * 1000)) { p.Kill(entireProcessTree: true); Assert.Fail($"the run did not end within {timeoutSeconds} s"); }
        output.WriteLine($"exit {p.ExitCode}; stderr: {stderr.Result[..Math.Min(stderr.Result.Length, 2000)]}");
        return (p.ExitCode, stdout.Result, stderr.Result);
    }

    private static string[] Args(string output, params string[] extra) => [.. Common, "--output", output, .. extra];

    private static byte[] Final(string output, string name) => File.ReadAllBytes(Path.Combine(output, name, name == "adapter" ? LoraAdapter.WeightsFileName : "model.safetensors"));

    [Fact]
    public void Qlora_with_dropout_and_checkpointing_on_two_ranks_equals_one_process_bit_for_bit()
    {
        RequireMpi();
        string dir = Training.TrainingTestSupport.TempDir();
        try
        {
            string[] extra = ["--quantize", "nf4", "--gradient-checkpointing", "--lora-dropout", "0.1", "--max-steps", "3"];
            Run(0, Args(Path.Combine(dir, "one"), [.. extra, "--distributed", "none"])).Exit.Should().Be(0);
            var two = Run(2, Args(Path.Combine(dir, "two"), extra));
            two.Exit.Should().Be(0);
            two.Out.Should().Contain("data-parallel: MPI").And.Contain("all-reduce");
            Final(Path.Combine(dir, "two"), "adapter").Should().Equal(Final(Path.Combine(dir, "one"), "adapter"), "the adapters are bit-identical");
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public void Full_finetuning_on_two_ranks_equals_one_process_bit_for_bit()
    {
        RequireMpi();
        string dir = Training.TrainingTestSupport.TempDir();
        try
        {
            string[] extra = ["--full", "--max-steps", "2"];
            Run(0, Args(Path.Combine(dir, "one"), [.. extra, "--distributed", "none"])).Exit.Should().Be(0);
            Run(2, Args(Path.Combine(dir, "two"), extra)).Exit.Should().Be(0);
            Final(Path.Combine(dir, "two"), "model").Should().Equal(Final(Path.Combine(dir, "one"), "model"), "the models are bit-identical");
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public void A_run_whose_rank_died_resumes_on_two_ranks_and_on_one_as_if_uninterrupted()
    {
        RequireMpi();
        string dir = Training.TrainingTestSupport.TempDir();
        try
        {
            string[] extra = ["--max-steps", "4", "--save-steps", "1", "--lora-dropout", "0.1"];
            string whole = Path.Combine(dir, "whole"), broken = Path.Combine(dir, "broken"), copy = Path.Combine(dir, "copy");
            Run(0, Args(whole, [.. extra, "--distributed", "none"])).Exit.Should().Be(0);
            var died = Run(2, Args(broken, extra), fault: "rank=1,step=3,kind=die");
            died.Exit.Should().NotBe(0);
            (died.Out + died.Err).Should().Contain("rank 1");
            Trainer.LatestCheckpoint(broken).Should().EndWith("checkpoint-2", "the checkpoints written before the death are intact");
            CopyDirectory(broken, copy);
            Run(2, Args(broken, [.. extra, "--resume"])).Exit.Should().Be(0);
            Final(broken, "adapter").Should().Equal(Final(whole, "adapter"), "2 ranks resume into the uninterrupted run");
            Run(0, Args(copy, [.. extra, "--resume", "--distributed", "none"])).Exit.Should().Be(0);
            Final(copy, "adapter").Should().Equal(Final(whole, "adapter"), "1 process resumes a 2-rank run into the same result");
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public void A_hung_rank_stops_the_job_with_an_error_naming_it_and_the_last_checkpoint_intact()
    {
        RequireMpi();
        string dir = Training.TrainingTestSupport.TempDir();
        try
        {
            // 40 s: long enough that a loaded machine's slow rank is not mistaken for a hung one
            var hung = Run(2, Args(dir, "--max-steps", "4", "--save-steps", "1", "--collective-timeout", "40"), fault: "rank=1,step=3,kind=hang", timeoutSeconds: 600);
            hung.Exit.Should().NotBe(0);
            hung.Err.Should().Contain("rank(s) 1 did not reach it").And.Contain("did not complete within 40 s");
            Trainer.LatestCheckpoint(dir).Should().EndWith("checkpoint-2");
            File.Exists(Path.Combine(dir, "checkpoint-2", LoraAdapter.WeightsFileName)).Should().BeTrue();
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public void Asking_for_mpi_without_open_mpi_names_what_to_install()
    {
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardError = true, RedirectStandardOutput = true };
        string[] args = [Cli, .. Args(Path.Combine(Path.GetTempPath(), "purellama-no-mpi-" + Guid.NewGuid().ToString("N")), "--distributed", "mpi", "--max-steps", "1")];
        foreach (var a in args)
            psi.ArgumentList.Add(a);
        psi.Environment["PURELLAMA_MPI_LIBRARY"] = "/nonexistent/libmpi.so.40";
        using var p = Process.Start(psi)!;
        string err = p.StandardError.ReadToEnd() + p.StandardOutput.ReadToEnd();
        p.WaitForExit(120_000).Should().BeTrue();
        p.ExitCode.Should().NotBe(0);
        err.Should().Contain("/nonexistent/libmpi.so.40").And.Contain("apt-get install openmpi-bin");
    }

    private static void CopyDirectory(string from, string to)
    {
        Directory.CreateDirectory(to);
        foreach (var f in Directory.GetFiles(from)) File.Copy(f, Path.Combine(to, Path.GetFileName(f)));
        foreach (var d in Directory.GetDirectories(from)) CopyDirectory(d, Path.Combine(to, Path.GetFileName(d)));
    }
}
