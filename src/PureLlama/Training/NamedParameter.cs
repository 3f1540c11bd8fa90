using PureLlama.Tensors;

namespace PureLlama.Training;

/// <summary>
/// A trainable tensor (F32, <see cref="Tensor.RequiresGrad"/> set; its gradient accumulates in
/// <see cref="Tensor.Grad"/>) under the name it is saved with (PEFT or Hugging Face key).
/// </summary>
public sealed record NamedParameter(string Name, Tensor Value);
