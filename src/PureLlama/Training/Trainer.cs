using System.Diagnostics;
using PureLlama.Autograd;
using PureLlama.Compute;
using PureLlama.Distributed;
using PureLlama.Llama;
using PureLlama.Tensors;
using PureLlama.Training.Data;

namespace PureLlama.Training;

/// <summary>The outcome of <see cref="Trainer.Train"/>.</summary>
/// <param name="Steps">Optimizer steps done in all (including those before a resume).</param>
/// <param name="FirstLoss">Training loss of the first step of this process.</param>
/// <param name="LastLoss">Training loss of the last step.</param>
/// <param name="EvalLossBefore">Held-out loss before the first step (null without held-out rows or when resumed).</param>
/// <param name="EvalLossAfter">Held-out loss after the last step (null without held-out rows).</param>
/// <param name="TokensPerSecond">Input tokens per second over this process's steps.</param>
/// <param name="PeakResidentBytes">Peak process resident set.</param>
/// <param name="PeakBackendBytes">Peak tensor memory of the compute backend (CPU: native storage high-water mark, activations included; GPU: pool bytes in use sampled after each step).</param>
/// <param name="LastCheckpoint">The final checkpoint folder.</param>
/// <param name="LossCurve">The loss-curve PNG.</param>
public sealed record TrainerResult(int Steps, double FirstLoss, double LastLoss, double? EvalLossBefore, double? EvalLossAfter,
    double TokensPerSecond, long PeakResidentBytes, long PeakBackendBytes, string LastCheckpoint, string LossCurve);

/// <summary>
/// The training loop: for each optimizer step, <see cref="TrainerOptions.GradientAccumulationSteps"/> micro-batches
/// from the <see cref="SequenceBatcher"/> run forward and backward (each micro-batch's rows packed into one
/// sequence with segment ids), the loss of each divided by the scored tokens of the whole step; the gradient norm
/// is clipped (a non-finite norm skips the update), the optimizer steps at the scheduled learning rate, and the
/// step is logged and displayed. Held-out loss every <see cref="TrainerOptions.EvalSteps"/>, checkpoints every
/// <see cref="TrainerOptions.SaveSteps"/> (atomic folders; <see cref="TrainerOptions.Resume"/> continues from the
/// latest one exactly: weights, optimizer state, data cursor and dropout state are restored).
/// </summary>
public sealed partial class Trainer
{
    private readonly LlamaModel _model;
    private readonly ITrainableWeights _weights;
    private readonly IOptimizer _optimizer;
    private readonly Func<int, double> _learningRate;
    private readonly SequenceBatcher _train;
    private readonly IReadOnlyList<TrainingSequence> _eval;
    private readonly TrainingProgress? _progress;
    private readonly ICommunicator _comm;
    private readonly GradientAllReduce _gradients;
    private long _peakRss, _peakBackend;

    /// <summary>Prepares a run (nothing happens until <see cref="Train"/>).</summary>
    /// <param name="model">The model (trainable tensors inside it are updated in place).</param>
    /// <param name="weights">What is trained and checkpointed (LoRA adapter or every weight).</param>
    /// <param name="optimizer">An optimizer over <paramref name="weights"/>' parameters.</param>
    /// <param name="learningRate">Learning rate of the step that follows <c>n</c> completed steps (HF scheduler semantics).</param>
    /// <param name="options">Loop settings.</param>
    /// <param name="train">The training rows, batched.</param>
    /// <param name="eval">Held-out rows (not shuffled), or null.</param>
    /// <param name="progress">Where to display progress (null: silent).</param>
    public Trainer(LlamaModel model, ITrainableWeights weights, IOptimizer optimizer, Func<int, double> learningRate, TrainerOptions options,
        SequenceBatcher train, IReadOnlyList<TrainingSequence>? eval = null, TrainingProgress? progress = null)
    {
        _model = model ?? throw new ArgumentNullException(nameof(model));
        _weights = weights ?? throw new ArgumentNullException(nameof(weights));
        _optimizer = optimizer ?? throw new ArgumentNullException(nameof(optimizer));
        _learningRate = learningRate ?? throw new ArgumentNullException(nameof(learningRate));
        Options = options ?? throw new ArgumentNullException(nameof(options));
        _train = train ?? throw new ArgumentNullException(nameof(train));
        options.Validate();
        _eval = eval ?? [];
        _comm = options.Communicator ?? SingleProcessCommunicator.Instance;
        _gradients = new GradientAllReduce(_comm);
        _progress = _comm.Rank == 0 ? progress : null;   // one progress display for the whole job
        int microPerEpoch = train.MicroBatchesInEpoch(0);
        StepsPerEpoch = (microPerEpoch + options.GradientAccumulationSteps - 1) / options.GradientAccumulationSteps;
        State = new TrainerState
        {
            TotalSteps = options.MaxSteps ?? options.Epochs * StepsPerEpoch,
            RowsPerEpoch = train.EpochSequences(0).Count,
        };
    }

    /// <summary>The settings.</summary>
    public TrainerOptions Options { get; }

    /// <summary>Where the run stands (restored by a resume).</summary>
    public TrainerState State { get; private set; }

    /// <summary>Optimizer steps in one pass over the training rows.</summary>
    public int StepsPerEpoch { get; }

    /// <summary>Runs (or resumes) training to <see cref="TrainerState.TotalSteps"/> and writes the final checkpoint.</summary>
    public TrainerResult Train()
    {
        if (IsWriter)
        {
            Directory.CreateDirectory(Options.OutputDirectory);
            RemoveIncompleteCheckpoints();
        }
        _comm.Barrier();   // every rank sees the same checkpoints
        if (Options.Resume && LatestCheckpoint(Options.OutputDirectory) is { } latest)
        {
            Resume(latest);
            _progress?.Message($"resumed from {latest} at step {State.Step}");
        }
        if (_comm.Size > 1)
            foreach (var p in _weights.Parameters) _comm.Broadcast(p.Value);   // every rank starts from rank 0's weights
        double? evalBefore = null;
        if (State.Step == 0 && _eval.Count > 0)
        {
            evalBefore = Evaluate();
            State.EvalHistory.Add(new EvalLog(0, evalBefore.Value));
            _progress?.Message(string.Create(System.Globalization.CultureInfo.InvariantCulture, $"eval loss before training: {evalBefore:0.0000}"));
        }
        _weights.SetTraining(true);
        var clock = Stopwatch.StartNew();
        long tokensThisRun = 0;
        double first = double.NaN, last = double.NaN;
        string? lastCheckpoint = null;
        int startStep = State.Step;
        while (State.Step < State.TotalSteps)
        {
            var log = Step();
            tokensThisRun += log.Tokens;
            if (double.IsNaN(first)) first = log.Loss;
            last = log.Loss;
            var (rss, backend) = SampleMemory();
            double elapsed = clock.Elapsed.TotalSeconds;
            int done = State.Step - startStep;
            var remaining = TimeSpan.FromSeconds(elapsed / done * (State.TotalSteps - State.Step));
            _progress?.Step(new StepReport(State.Step, State.TotalSteps, log.Epoch, log.Loss, log.LearningRate, log.GradNorm, log.Skipped,
                log.Tokens, log.Tokens / Math.Max(LastStepSeconds, 1e-9), clock.Elapsed, remaining, rss, backend));
            if (log.Skipped) _progress?.Message($"step {log.Step}: update skipped ({(log.Tokens == 0 || double.IsNaN(log.Loss) ? "no scored token" : $"gradient norm {log.GradNorm}")})");

            bool final = State.Step == State.TotalSteps;
            if (_eval.Count > 0 && (final || (Options.EvalSteps > 0 && State.Step % Options.EvalSteps == 0)))
            {
                double ev = Evaluate();
                State.EvalHistory.Add(new EvalLog(State.Step, ev));
                _progress?.Message(string.Create(System.Globalization.CultureInfo.InvariantCulture, $"step {State.Step}: eval loss {ev:0.0000}"));
            }
            if (final || (Options.SaveSteps > 0 && State.Step % Options.SaveSteps == 0))
            {
                if (IsWriter)
                {
                    lastCheckpoint = SaveCheckpoint();
                    _progress?.Message($"saved {lastCheckpoint}");
                }
                _comm.Barrier();   // no rank runs ahead of a checkpoint being written
            }
        }
        _progress?.Finish();
        lastCheckpoint ??= LatestCheckpoint(Options.OutputDirectory) ?? "";
        double? evalAfter = State.EvalHistory.Count > 0 && State.EvalHistory[^1].Step == State.Step ? State.EvalHistory[^1].Loss : null;
        return new TrainerResult(State.Step, first, last, evalBefore, evalAfter, tokensThisRun / Math.Max(clock.Elapsed.TotalSeconds, 1e-9),
            _peakRss, _peakBackend, lastCheckpoint, LossCurvePath);
    }

    private double LastStepSeconds { get; set; }

    /// <summary>Test hook: runs before step n (1-based) starts; the CLI's fault injection for distributed-failure tests.</summary>
    internal Action<int>? BeforeStep { get; set; }

    // Rank 0 writes the output folder; the other ranks of a data-parallel run only compute.
    private bool IsWriter => _comm.Rank == 0;

    /// <summary>Seconds this process spent summing gradients over the ranks (0 in one process).</summary>
    public double AllReduceSeconds => _gradients.Seconds;

    /// <summary>Gradient bytes each rank sends per step (0 in one process).</summary>
    public long AllReduceBytesPerStep => _gradients.BytesPerStep;

    /// <summary>One optimizer step over the next accumulated batch; returns its log (also appended to the state).</summary>
    public StepLog Step()
    {
        BeforeStep?.Invoke(State.Step + 1);
        var sw = Stopwatch.StartNew();
        var batch = _train.NextStep(DataCursor.Parse(State.DataCursor), Options.GradientAccumulationSteps);
        int targets = batch.TargetCount;
        double loss = 0;
        long tokens = batch.MicroBatches.Sum(mb => (long)mb.TokenCount);   // the whole step's, over every rank
        _weights.SetTraining(true);
        string? randomAtStart = _weights.RandomState;
        var (first, end) = MicroBatchTree.Block(batch.MicroBatches.Count, _comm.Rank, _comm.Size);   // this rank's share
        using var accumulator = new TreeGradientAccumulator(_weights.Parameters);
        for (int i = first; i < end && targets > 0; i++)
        {
            var mb = batch.MicroBatches[i];
            if (_weights is IMicroBatchRandomState seekable) _weights.RandomState = seekable.StateAfter(randomAtStart, i);
            var (ids, labels, positions, segments) = Flatten(mb.Sequences);
            using var idsT = Tensor.FromArray(ids, new Shape(ids.Length), _model.Device); // I32 [T]
            using var logits = _model.Forward(idsT, positions, segments);              // [T, vocab]
            using var l = LlamaModel.CausalLmLoss(logits, labels, targets);            // Σ token losses / step's targets
            l.Backward();
            loss += l.Item();
            _weights.AfterBackward();   // per micro-batch, so a tied head's gradient joins the tree like the others
            accumulator.Push();
        }
        accumulator.Finish();
        if (_weights is IMicroBatchRandomState advanced) _weights.RandomState = advanced.StateAfter(randomAtStart, batch.MicroBatches.Count);
        if (_comm.Size > 1 && targets > 0)
        {
            _gradients.Run(_weights.Parameters);
            Span<double> sum = [loss];
            _comm.AllReduce(sum);
            loss = sum[0];
        }
        double lr = _learningRate(State.Step);
        double norm = double.NaN;
        bool skipped = true;
        if (targets > 0)
        {
            norm = Options.MaxGradNorm > 0 ? GradientClipping.ClipGlobalNorm(_weights.Parameters, Options.MaxGradNorm)
                : GradientClipping.GlobalNorm(_weights.Parameters);
            skipped = !double.IsFinite(norm);
            if (!skipped) _optimizer.Step((float)lr);
        }
        _optimizer.ZeroGrad();
        State.Step++;
        State.DataCursor = batch.Next.ToString();
        State.Tokens += tokens;
        State.WeightsRandomState = _weights.RandomState;
        var log = new StepLog(State.Step, State.EpochProgress, targets > 0 ? loss : double.NaN, lr, norm, skipped, tokens);
        State.LogHistory.Add(log);
        LastStepSeconds = sw.Elapsed.TotalSeconds;
        return log;
    }

    /// <summary>Mean token loss over every held-out row (no dropout, no gradients); NaN without held-out rows.</summary>
    public double Evaluate()
    {
        if (_eval.Count == 0) return double.NaN;
        long targets = _eval.Sum(s => (long)s.TargetCount);
        if (targets == 0) return double.NaN;
        _weights.SetTraining(false);
        try
        {
            using var _ = GradMode.NoGrad();
            double sum = 0;
            for (int r = 0; r < _eval.Count; r++)
            {
                var row = _eval[r];
                if (row.TargetCount == 0 || r % _comm.Size != _comm.Rank) continue;   // held-out rows split over the ranks
                var (ids, labels, positions, segments) = Flatten([row]);
                using var idsT = Tensor.FromArray(ids, new Shape(ids.Length), _model.Device);
                using var logits = _model.Forward(idsT, positions, segments);
                using var l = LlamaModel.CausalLmLoss(logits, labels, targets);
                sum += l.Item();
            }
            Span<double> total = [sum];
            _comm.AllReduce(total);
            return total[0];
        }
        finally { _weights.SetTraining(true); }
    }

    /// <summary>
    /// The rows of a micro-batch as one packed sequence: ids, labels and positions concatenated, segment ids
    /// renumbered so that every example of every row has its own; null segments for a single example.
    /// </summary>
    internal static (int[] Ids, int[] Labels, int[] Positions, int[]? Segments) Flatten(IReadOnlyList<TrainingSequence> rows)
    {
        if (rows.Count == 1 && rows[0].ExampleCount <= 1) return (rows[0].Ids, rows[0].Labels, rows[0].Positions, null);
        int total = rows.Sum(r => r.Length);
        var ids = new int[total]; var labels = new int[total]; var positions = new int[total]; var segments = new int[total];
        int at = 0, offset = 0;
        foreach (var r in rows)
        {
            r.Ids.CopyTo(ids, at);
            r.Labels.CopyTo(labels, at);
            r.Positions.CopyTo(positions, at);
            int max = -1;
            for (int i = 0; i < r.Length; i++) { segments[at + i] = offset + r.SegmentIds[i]; max = Math.Max(max, r.SegmentIds[i]); }
            offset += max + 1;
            at += r.Length;
        }
        return (ids, labels, positions, segments);
    }

    // Process resident set and the backend's tensor bytes; tracks the peaks.
    private (long Rss, long Backend) SampleMemory()
    {
        long rss = Environment.WorkingSet;
        long backend = _model.Device.Kind == DeviceKind.Cpu ? NativeStorage.LiveBytes
            : Backends.Get(_model.Device) is IlgpuBackend gpu ? gpu.BytesInUse : 0;
        // The kernel's high-water mark (VmHWM on Linux) sees the peak inside the step, not just the sample after it.
        using (var self = Process.GetCurrentProcess()) _peakRss = Math.Max(_peakRss, Math.Max(rss, self.PeakWorkingSet64));
        // CPU: the allocator's high-water mark, which sees activations inside the step; GPU: sampled after the step.
        _peakBackend = Math.Max(_peakBackend, _model.Device.Kind == DeviceKind.Cpu ? NativeStorage.PeakLiveBytes : backend);
        return (rss, backend);
    }
}
