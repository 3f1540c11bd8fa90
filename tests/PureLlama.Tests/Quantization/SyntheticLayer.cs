using PureLlama.Quantization;
using PureLlama.Tensors;

namespace PureLlama.Tests.Quantization;

/// <summary>
/// A linear layer with activations that look like a transformer's: correlated input channels
/// X = Z·(D + A·B) (diagonal plus rank-8 mixing, Z standard normal) with a few outlier channels scaled
/// 10–50×, calibration and held-out rows drawn from the same distribution; W [out, in] normal.
/// </summary>
internal sealed class SyntheticLayer
{
    public SyntheticLayer(int rows, int columns, int calibrationRows, int heldOutRows, ulong seed)
    {
        var rng = new Rng(seed);
        Columns = columns;
        const int Rank = 8;
        var d = new float[columns];
        rng.FillUniform(d, 0.2, 1.0);
        var a = new float[columns * Rank];
        var b = new float[Rank * columns];
        rng.FillNormal(a, 0, 0.5);
        rng.FillNormal(b, 0, 0.5);
        var channelScale = Enumerable.Repeat(1f, columns).ToArray();
        for (int k = 0; k < Math.Max(2, columns / 128); k++)
        {
            int c = (int)(rng.NextUInt64() % (ulong)columns);
            channelScale[c] = 10f + 40f * (float)(rng.NextUInt64() % 1000) / 1000f;
        }
        // Mixing M = D + A·B, then outlier channels: X = Z·M·diag(channelScale).
        _mixing = new float[columns * columns];
        for (int i = 0; i < columns; i++)
            for (int j = 0; j < columns; j++)
            {
                double v = i == j ? d[i] : 0;
                for (int r = 0; r < Rank; r++) v += a[i * Rank + r] * b[r * columns + j];
                _mixing[i * columns + j] = (float)(v * channelScale[j]);
            }
        var w = new float[rows * columns];
        rng.FillNormal(w, 0, 0.02);
        Weight = new HostMatrix(w, rows, columns);
        Calibration = Activations(rng, calibrationRows);
        HeldOut = Activations(rng, heldOutRows);
    }

    private readonly float[] _mixing; // [in, in]

    public int Columns { get; }
    public HostMatrix Weight { get; }
    public HostMatrix Calibration { get; }
    public HostMatrix HeldOut { get; }

    private HostMatrix Activations(Rng rng, int n)
    {
        var z = new float[n * Columns];
        rng.FillNormal(z);
        var zm = new HostMatrix(z, n, Columns);
        // X = Z·M = Z·(Mᵀ)ᵀ
        var mt = new float[_mixing.Length];
        for (int i = 0; i < Columns; i++)
            for (int j = 0; j < Columns; j++) mt[j * Columns + i] = _mixing[i * Columns + j];
        return new HostMatrix(zm.TimesTransposed(new HostMatrix(mt, Columns, Columns)), n, Columns);
    }

    /// <summary>‖X·Wᵀ − X·Ŵᵀ‖² / ‖X·Wᵀ‖² on the held-out rows (float64 sums).</summary>
    public double RelativeOutputError(float[] dequantized, float[]? inputScales = null)
    {
        var reference = HeldOut.TimesTransposed(Weight);
        var x = inputScales is null ? HeldOut : Awq.DivideColumns(HeldOut, inputScales);
        var output = x.TimesTransposed(new HostMatrix(dequantized, Weight.Rows, Weight.Columns));
        double num = 0, den = 0;
        for (long i = 0; i < output.Length; i++) { double e = output[i] - reference[i]; num += e * e; den += (double)reference[i] * reference[i]; }
        return num / den;
    }

    /// <summary>Relative held-out errors of RTN, GPTQ, GPTQ with act-order and AWQ (4-bit, group 128, asymmetric).</summary>
    public (double Rtn, double Gptq, double GptqActOrder, double Awq) CompareMethods()
    {
        var quant = new GroupQuantOptions(4, 128, false);
        var rtn = Rtn.Quantize(Weight.Data, Weight.Rows, Columns, quant);
        var hessian = new GptqHessian(Columns);
        hessian.Add(Calibration.Data, Calibration.Rows);
        var gptq = Gptq.Quantize(Weight.Data, Weight.Rows, Columns, hessian, new GptqOptions(quant));
        var gptqAct = Gptq.Quantize(Weight.Data, Weight.Rows, Columns, hessian, new GptqOptions(quant, ActOrder: true));
        var (awq, scales) = Awq.QuantizeLinear(Calibration, Weight, new AwqOptions(quant));
        return (RelativeOutputError(rtn.Dequantize()), RelativeOutputError(gptq.Dequantize()),
            RelativeOutputError(gptqAct.Dequantize()), RelativeOutputError(awq.Dequantize(), scales.Scales));
    }
}
