namespace PureLlama.Tokenization;

/// <summary>
/// A token from the <c>added_tokens</c> list of <c>tokenizer.json</c>: matched as a whole in the
/// input text before pre-tokenization (exact, case-sensitive) and decoded to its own text.
/// </summary>
/// <param name="Id">The token id.</param>
/// <param name="Content">The exact text that stands for the token, e.g. <c>&lt;|eot_id|&gt;</c>.</param>
/// <param name="Special">Special (control) tokens are matched only when special parsing is on, and can be skipped on decode.</param>
public sealed record AddedToken(int Id, string Content, bool Special);
