using System.Runtime.CompilerServices;
using PureLlama.Compute;

namespace PureLlama.Tests;

/// <summary>
/// The fidelity tests (fixtures, references, training) check the exact F32-code path: this assembly starts with
/// <see cref="QuantizedInference.ExactDequant"/> on; the int8 dot-product tests opt in with a scope.
/// </summary>
internal static class ExactDequantByDefault
{
#pragma warning disable CA2255 // a test assembly's one-time setup
    [ModuleInitializer]
    internal static void Init() => QuantizedInference.ExactDequant = true;
#pragma warning restore CA2255
}
