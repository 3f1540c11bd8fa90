namespace PureLlama.Llama;

/// <summary>
/// llama.cpp rotates adjacent pairs (2i, 2i+1) of each head; Hugging Face Llama rotates (i, i + d/2). Its converter
/// therefore permutes the rows of q_proj and k_proj, per head of d rows:
/// <code>
/// gguf row  h·d + 2i + j   =   hf row  h·d + j·d/2 + i        (i &lt; d/2, j ∈ {0, 1})
/// </code>
/// Rows move whole, so the same permutation serves dense and block-quantized rows alike (bytes per row given).
/// </summary>
internal static class GgufRopePermutation
{
    /// <summary>Hugging Face row order → GGUF row order.</summary>
    public static void ToGguf(ReadOnlySpan<byte> hf, Span<byte> gguf, int rows, int heads) => Permute(hf, gguf, rows, heads, toGguf: true);

    /// <summary>GGUF row order → Hugging Face row order.</summary>
    public static void FromGguf(ReadOnlySpan<byte> gguf, Span<byte> hf, int rows, int heads) => Permute(gguf, hf, rows, heads, toGguf: false);

    private static void Permute(ReadOnlySpan<byte> src, Span<byte> dst, int rows, int heads, bool toGguf)
    {
        if (heads <= 0 || rows % heads != 0 || rows / heads % 2 != 0)
            throw new ArgumentException($"{rows} rows do not split into {heads} heads of an even size.");
        if (src.Length != dst.Length || src.Length % rows != 0)
            throw new ArgumentException($"Source ({src.Length} bytes) and destination ({dst.Length} bytes) must be equal whole rows of {rows}.");
        int rowBytes = src.Length / rows, d = rows / heads, half = d / 2;
        for (int h = 0; h < heads; h++)
            for (int i = 0; i < half; i++)
                for (int j = 0; j < 2; j++)
                {
                    int g = h * d + 2 * i + j, f = h * d + j * half + i;
                    int from = toGguf ? f : g, to = toGguf ? g : f;
                    src.Slice(from * rowBytes, rowBytes).CopyTo(dst.Slice(to * rowBytes, rowBytes));
                }
    }
}
