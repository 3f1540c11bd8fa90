using System.CommandLine;
using System.Globalization;
using PureLlama.Cli.Display;
using PureLlama.Distributed;
using PureLlama.Kernels.Simd;
using PureLlama.Llama;
using PureLlama.Tensors;
using PureLlama.Training;
using PureLlama.Training.Data;

namespace PureLlama.Cli.Commands;

/// <summary>The options finetune and pretrain share (loop, optimizer, schedule, data batching, output), and the run itself.</summary>
internal sealed class TrainCliOptions(float defaultLr, string defaultOptimizer)
{
    public Option<string?> Device { get; } = DeviceOption.Create();
    public Option<string> Output { get; } = new("--output") { Description = "folder for checkpoints, the loss curve and the final weights", Required = true };
    public Option<int> Epochs { get; } = new("--epochs") { Description = "passes over the data (default 1)", DefaultValueFactory = _ => 1 };
    public Option<int?> MaxSteps { get; } = new("--max-steps") { Description = "optimizer steps (overrides --epochs)" };
    public Option<int> BatchSize { get; } = new("--batch-size") { Description = "rows per micro-batch (default 1)", DefaultValueFactory = _ => 1 };
    public Option<int> GradAccum { get; } = new("--grad-accum") { Description = "micro-batches per optimizer step (default 1)", DefaultValueFactory = _ => 1 };
    public Option<float> Lr { get; } = new("--lr") { Description = $"peak learning rate (default {defaultLr.ToString(CultureInfo.InvariantCulture)})", DefaultValueFactory = _ => defaultLr };
    public Option<string> Scheduler { get; } = new("--scheduler") { Description = "constant | constant_with_warmup | linear | cosine (default cosine)", DefaultValueFactory = _ => "cosine" };
    public Option<int> WarmupSteps { get; } = new("--warmup-steps") { Description = "linear warm-up steps (default 0)", DefaultValueFactory = _ => 0 };
    public Option<float> MaxGradNorm { get; } = new("--max-grad-norm") { Description = "clip the global gradient norm (0 = off; default 1.0)", DefaultValueFactory = _ => 1f };
    public Option<float> WeightDecay { get; } = new("--weight-decay") { Description = "AdamW decoupled weight decay (default 0)", DefaultValueFactory = _ => 0f };
    public Option<string> Optimizer { get; } = new("--optimizer") { Description = $"adamw | paged-adamw-8bit (default {defaultOptimizer})", DefaultValueFactory = _ => defaultOptimizer };
    public Option<bool> GradientCheckpointing { get; } = new("--gradient-checkpointing") { Description = "recompute each decoder layer in the backward (less memory)" };
    public Option<int> MaxSeqLength { get; } = new("--max-seq-length") { Description = "tokens per row (default 512)", DefaultValueFactory = _ => 512 };
    public Option<bool> Packing { get; } = new("--packing") { Description = "pack several examples per row (positions restart, attention stays within each example)" };
    public Option<double> EvalSplit { get; } = new("--eval-split") { Description = "held-out share (< 1) or count (≥ 1) of the examples (default 0)", DefaultValueFactory = _ => 0 };
    public Option<int> EvalSteps { get; } = new("--eval-steps") { Description = "evaluate every N steps (0 = before and after only)", DefaultValueFactory = _ => 0 };
    public Option<int> SaveSteps { get; } = new("--save-steps") { Description = "checkpoint every N steps (default 100; 0 = at the end only; Ctrl-C also checkpoints)", DefaultValueFactory = _ => 100 };
    public Option<int> SaveTotalLimit { get; } = new("--save-total-limit") { Description = "keep at most N checkpoints (0 = all)", DefaultValueFactory = _ => 0 };
    public Option<ulong> Seed { get; } = new("--seed") { Description = "seed of data order, split, initialisation and dropout (default 42)", DefaultValueFactory = _ => 42UL };
    public Option<bool> Resume { get; } = new("--resume") { Description = "continue from the latest checkpoint in --output (an error when there is none)" };
    public Option<bool> Overwrite { get; } = new("--overwrite") { Description = "delete another run's checkpoints in --output and start afresh" };
    public Option<string> Distributed { get; } = new("--distributed") { Description = "auto (MPI when launched by mpirun) | mpi | none (default auto)", DefaultValueFactory = _ => "auto" };
    public Option<double> CollectiveTimeout { get; } = new("--collective-timeout") { Description = "seconds a rank waits for the others in one collective before the job stops (default 600)", DefaultValueFactory = _ => 600 };

    public void AddTo(Command command)
    {
        foreach (var o in new Option[] { Device, Output, Epochs, MaxSteps, BatchSize, GradAccum, Lr, Scheduler, WarmupSteps, MaxGradNorm, WeightDecay,
                     Optimizer, GradientCheckpointing, MaxSeqLength, Packing, EvalSplit, EvalSteps, SaveSteps, SaveTotalLimit, Seed, Resume, Overwrite,
                     Distributed, CollectiveTimeout })
            command.Options.Add(o);
    }

    /// <summary>
    /// Builds the trainer for <paramref name="weights"/>, trains (Ctrl-C stops after the current step with a checkpoint),
    /// writes the final weights to <paramref name="finalName"/> under --output, the loss curve, and prints the summary.
    /// Returns the exit code (130 when interrupted).
    /// </summary>
    public int Run(ParseResult parse, ICommunicator comm, LlamaModel model, ITrainableWeights weights, IReadOnlyList<TrainingExample> train,
        IReadOnlyList<TrainingExample> eval, string finalName)
    {
        model.GradientCheckpointing = parse.GetValue(GradientCheckpointing);
        var data = TrainingData.From(train, eval, new BatcherOptions
        {
            MaxSeqLength = parse.GetValue(MaxSeqLength), Pack = parse.GetValue(Packing), Shuffle = true, Seed = parse.GetValue(Seed),
            MicroBatchSize = parse.GetValue(BatchSize),
        });
        string optimizerName = parse.GetValue(Optimizer)!;
        var options = new TrainerOptions
        {
            OutputDirectory = parse.GetValue(Output)!, Epochs = parse.GetValue(Epochs), MaxSteps = parse.GetValue(MaxSteps),
            GradientAccumulationSteps = parse.GetValue(GradAccum), MaxGradNorm = parse.GetValue(MaxGradNorm), EvalSteps = parse.GetValue(EvalSteps),
            SaveSteps = parse.GetValue(SaveSteps), SaveTotalLimit = parse.GetValue(SaveTotalLimit), Resume = parse.GetValue(Resume),
            Overwrite = parse.GetValue(Overwrite),
            LearningRate = parse.GetValue(Lr), Schedule = LearningRateSchedule.ParseKind(parse.GetValue(Scheduler)!), WarmupSteps = parse.GetValue(WarmupSteps),
            Optimizer = ParseOptimizer(optimizerName), AdamW = new AdamWOptions { WeightDecay = parse.GetValue(WeightDecay) },
            Communicator = comm,
        };
        using var trainer = new Trainer(model, weights, data, options);
        string curve = Path.Combine(options.OutputDirectory, LossCurve.FileName);
        var progress = TrainingProgress.ForConsole();
        progress.Checkpointed = _ => LossCurve.Write(curve, trainer.State, $"{finalName} training loss");
        FaultInjection.Install(trainer, comm);

        long trainTokens = train.Sum(e => (long)e.Length);
        Console.WriteLine($"{weights.Summary}");
        Console.WriteLine($"data: {train.Count} training examples ({trainTokens:N0} tokens), {eval.Count} held out; {trainer.StepsPerEpoch} steps per epoch, {trainer.State.TotalSteps} steps");
        Console.WriteLine($"optimizer {optimizerName} ({Bytes(trainer.Optimizer.StateBytes)} of state), schedule {trainer.Schedule}, device {model.Device}");
        if (comm.Size > 1) Console.WriteLine($"data-parallel: {comm.Description}, {SimdThreading.MaxThreads} thread(s) per rank; each rank sums a contiguous block of each step's micro-batches");
        TrainerResult result;
        using (var interrupt = new CancellationTokenSource())
        {
            ConsoleCancelEventHandler onCtrlC = (_, e) =>
            {
                if (interrupt.IsCancellationRequested) return;   // a second Ctrl-C ends the process at once
                e.Cancel = true;
                interrupt.Cancel();
                Console.Error.WriteLine("\ninterrupted: finishing the current step and writing a checkpoint (Ctrl-C again to quit at once)");
            };
            Console.CancelKeyPress += onCtrlC;
            try { result = trainer.Train(interrupt.Token, progress); }
            catch (OperationCanceledException stopped)
            {
                progress.Finish();
                Console.Error.WriteLine($"stopped: {stopped.Message}");
                return 130;
            }
            finally { Console.CancelKeyPress -= onCtrlC; }
        }
        progress.Finish();

        string final = Path.Combine(options.OutputDirectory, finalName);
        if (comm.Rank == 0) weights.SaveFolder(final);
        comm.Barrier();
        var c = CultureInfo.InvariantCulture;
        Console.WriteLine();
        Console.WriteLine("summary");
        if (result.EvalLossBefore is { } before && result.EvalLossAfter is { } after)
            Console.WriteLine(string.Create(c, $"  held-out loss   {before:0.0000} → {after:0.0000}"));
        Console.WriteLine(string.Create(c, $"  training loss   {result.FirstLoss:0.0000} (first step) → {result.LastLoss:0.0000} (last step)"));
        Console.WriteLine(string.Create(c, $"  steps           {result.Steps}, {result.TokensPerSecond:0} tokens/s"));
        if (comm.Size > 1)
            Console.WriteLine(string.Create(c, $"  all-reduce      {trainer.AllReduceSeconds:0.000} s on rank 0 ({trainer.AllReduceBytesPerStep / 1048576.0:0.00} MiB of gradients per step)"));
        Console.WriteLine($"  peak memory     {Bytes(result.PeakResidentBytes)} resident, {Bytes(result.PeakBackendBytes)} of tensors");
        Console.WriteLine($"  weights         {final}");
        Console.WriteLine($"  checkpoint      {result.LastCheckpoint}");
        Console.WriteLine($"  loss curve      {curve}");
        return 0;
    }

    private static OptimizerKind ParseOptimizer(string name) => name.Trim().ToLowerInvariant() switch
    {
        "adamw" or "adamw_torch" => OptimizerKind.AdamW,
        "paged-adamw-8bit" or "paged_adamw_8bit" or "adamw-8bit" => OptimizerKind.PagedAdamW8bit,
        var other => throw new ArgumentException($"--optimizer must be adamw or paged-adamw-8bit, not '{other}'."),
    };

    private static string Bytes(long b) => TrainingProgress.Bytes(b);

    public Tensors.Device ResolveDevice(ParseResult parse) => DeviceOption.Resolve(parse.GetValue(Device));

    /// <summary>
    /// The run's communicator (MPI under mpirun). The other ranks print nothing to standard output (errors still reach
    /// standard error), and without PURELLAMA_THREADS each rank takes its share of the machine's cores.
    /// </summary>
    public ICommunicator OpenCommunicator(ParseResult parse)
    {
        double seconds = parse.GetValue(CollectiveTimeout);
        if (!(seconds > 0)) throw new ArgumentException($"--collective-timeout must be a positive number of seconds, not {seconds.ToString(CultureInfo.InvariantCulture)}.");
        var comm = Communicators.Create(parse.GetValue(Distributed)!, TimeSpan.FromSeconds(seconds));
        if (comm.Size > 1 && Tensors.Device.Parse(parse.GetValue(Device) ?? "cpu").Kind == Tensors.DeviceKind.Cuda)
        {
            // One GPU per rank: the local rank's, unless the launcher chose (read by the CUDA driver when it starts).
            if (Environment.GetEnvironmentVariable("CUDA_VISIBLE_DEVICES") is null)
                Environment.SetEnvironmentVariable("CUDA_VISIBLE_DEVICES", Environment.GetEnvironmentVariable("OMPI_COMM_WORLD_LOCAL_RANK") ?? "0");
            comm = NcclCommunicator.Create(comm, ownsBootstrap: true);
        }
        if (comm.Size > 1 && Environment.GetEnvironmentVariable("PURELLAMA_THREADS") is null)
            SimdThreading.MaxThreads = Math.Max(1, Environment.ProcessorCount / Communicators.LocalRanks());
        if (comm.Rank != 0) Console.SetOut(TextWriter.Null);
        return comm;
    }
}
