namespace PureLlama.Training;

/// <summary>
/// Trainable weights whose random stream (LoRA dropout) can be positioned at any micro-batch of a step, so that
/// micro-batch i draws the same masks whichever rank runs it and however many ranks share the step: the state
/// before micro-batch i is the step's starting state advanced by i micro-batches' worth of draws.
/// </summary>
internal interface IMicroBatchRandomState
{
    /// <summary>The random state after <paramref name="microBatches"/> training forwards from <paramref name="stepStart"/>.</summary>
    string? StateAfter(string? stepStart, int microBatches);
}
