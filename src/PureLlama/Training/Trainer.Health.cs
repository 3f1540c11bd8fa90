using System.Globalization;
using PureLlama.Tensors;

namespace PureLlama.Training;

// Divergence: a step with a non-finite loss or gradient is skipped and says why (and where, when a parameter or
// gradient holds the first non-finite value); after Options.MaxNonFiniteSteps in a row the run stops, leaving the last
// checkpoint as it was. A loss stuck at ln(vocab) with a zero gradient (a saturated, uniform model) warns once.
public sealed partial class Trainer
{
    private int _nonFiniteRun;
    private bool _warnedUniform;

    /// <summary>Why the last step's update was skipped, or null when it was applied.</summary>
    public string? LastSkipReason { get; private set; }

    private string SkipReason(int targets, double loss, double norm)
    {
        if (targets == 0) return "no scored token";
        string where = FirstNonFinite() is { } culprit ? culprit : "every trainable parameter and gradient is finite: a frozen weight, the input or the forward pass on this batch produced it";
        return double.IsFinite(loss)
            ? string.Create(CultureInfo.InvariantCulture, $"non-finite gradient norm {norm}; {where}")
            : string.Create(CultureInfo.InvariantCulture, $"non-finite loss {loss}; {where}");
    }

    // The first parameter holding a NaN/Inf value, else the first gradient (parameters in their listed order). Runs only on a bad step.
    private string? FirstNonFinite()
    {
        foreach (var p in _weights.Parameters)
            if (FirstBad(p.Value) is { } at) return $"first non-finite parameter: '{p.Name}' at index {at}";
        foreach (var p in _weights.Parameters)
            if (p.Value.Grad is { } g && FirstBad(g) is { } at) return $"first non-finite gradient: '{p.Name}' at index {at}";
        return null;
    }

    private static long? FirstBad(Tensor t)
    {
        if (t.DType != DType.F32) return null;
        int i = IO.FiniteValues.FirstNonFinite(t.ToArray<float>());
        return i < 0 ? null : i;
    }

    private void CheckHealth(StepLog log)
    {
        bool nonFinite = log.Tokens > 0 && log.Skipped && LastSkipReason != "no scored token";
        _nonFiniteRun = nonFinite ? _nonFiniteRun + 1 : 0;
        if (_nonFiniteRun >= Options.MaxNonFiniteSteps)
        {
            string last = LatestCheckpoint(Options.OutputDirectory) is { } c ? $"the last checkpoint, {c}, is intact" : "no checkpoint was written";
            throw new TrainingDivergedException(
                $"Training diverged: {_nonFiniteRun} consecutive steps up to step {log.Step} had a non-finite loss or gradient ({LastSkipReason}); {last}. " +
                "Lower the learning rate, check the data and the weights, or resume from the checkpoint.");
        }
        double uniform = Math.Log(_model.VocabSize);
        if (!_warnedUniform && !log.Skipped && double.IsFinite(log.Loss) && Math.Abs(log.Loss - uniform) < 1e-3 * uniform && log.GradNorm < 1e-12)
        {
            _warnedUniform = true;
            Notice(string.Create(CultureInfo.InvariantCulture,
                $"warning: step {log.Step}: loss {log.Loss:0.0000} is ln(vocab) = {uniform:0.0000} with a zero gradient norm: the model predicts a uniform distribution and no longer learns (learning rate too high?)"));
        }
    }
}
