using System;
using System.Linq;
using System.Runtime.Intrinsics;
using ModelGen.Cpu;
using ModelGen.Runtime.Tests.Cpu;
using Xunit;

namespace ModelGen.Runtime.Tests.Sequence;

/// <summary>
/// The sequence kernels (float, Sgemm on strided views) against the double reference on odd shapes, under every
/// forced SIMD level. Tolerance: |kernel − reference| ≤ 1e-4·(max|reference| + 1e-3) per tensor.
/// </summary>
[Collection(CpuSettingsCollection.Name)]
public class SequenceKernelTests
{
    static double[] D(float[] x) => x.Select(v => (double)v).ToArray();

    static void Close(double[] expected, float[] actual, string what, int count = -1)
    {
        int n = count < 0 ? expected.Length : count;
        double scale = expected.Take(n).Select(Math.Abs).DefaultIfEmpty(0).Max() + 1e-3;
        for (int i = 0; i < n; i++)
            Assert.True(Math.Abs(expected[i] - actual[i]) <= 1e-4 * scale, $"{what}[{i}]: expected {expected[i]}, got {actual[i]}");
    }

    public static TheoryData<SimdLevel> Levels() => new() { SimdLevel.Scalar, SimdLevel.Avx2, SimdLevel.Avx512 };

    [Theory]
    [MemberData(nameof(Levels))]
    public void AttentionKernelsMatchReference(SimdLevel level)
    {
        using var _ = CpuTestSupport.Force(level);
        foreach (bool causal in new[] { false, true })
        {
            int b = 3, t = 7, heads = 3, dim = 15, n = b * t * dim, pn = b * heads * t * t;
            var rng = new Random(causal ? 2 : 1);
            float[] q = CpuTestSupport.Random(rng, n), k = CpuTestSupport.Random(rng, n), v = CpuTestSupport.Random(rng, n), dy = CpuTestSupport.Random(rng, n);
            var y = new float[n];
            var p = new float[pn];
            Kernels.Attention(q, k, v, y, p, b, t, dim, heads, causal);
            var ds = new float[pn];
            float[] dq = new float[n], dk = new float[n], dv = new float[n];
            Kernels.AttentionBackwardScores(p, v, dy, ds, b, t, dim, heads);
            Kernels.AttentionBackwardQuery(ds, k, dq, b, t, dim, heads);
            Kernels.AttentionBackwardKey(ds, q, dk, b, t, dim, heads);
            Kernels.AttentionBackwardValue(p, dy, dv, b, t, dim, heads);

            var yr = new double[n];
            var pr = new double[pn];
            Reference.Attention<double>(D(q), D(k), D(v), yr, pr, b, t, dim, heads, causal);
            double[] dqr = new double[n], dkr = new double[n], dvr = new double[n];
            Reference.AttentionBackward<double>(D(q), D(k), D(v), pr, D(dy), dqr, dkr, dvr, b, t, dim, heads);
            Close(yr, y, $"{level} causal {causal} y");
            Close(pr, p, $"{level} causal {causal} probabilities");
            Close(dqr, dq, "dq");
            Close(dkr, dk, "dk");
            Close(dvr, dv, "dv");
        }
    }

    [Theory]
    [MemberData(nameof(Levels))]
    public void LstmKernelsMatchReference(SimdLevel level)
    {
        using var _ = CpuTestSupport.Force(level);
        int b = 3, t = 5, h = 7, g = 4 * h;
        var rng = new Random(3);
        float[] xw = CpuTestSupport.Random(rng, b * t * g), w = CpuTestSupport.Random(rng, h * g, 0.5f), dy = CpuTestSupport.Random(rng, b * t * h);
        var y = new float[b * t * h];
        var state = new float[b * t * 5 * h];
        Kernels.Lstm(xw, w, y, state, b, t, h);
        var dg = new float[b * t * g];
        Kernels.LstmBackward(w, state, dy, dg, new float[b * 2 * h], b, t, h);
        var dw = new float[h * g];
        Kernels.RecurrentWeightBackward(y, dg, dw, b, t, h, g, t);

        var yr = new double[y.Length];
        var sr = new double[state.Length];
        Reference.Lstm<double>(D(xw), D(w), yr, sr, b, t, h);
        double[] dgr = new double[dg.Length], dwr = new double[dw.Length];
        Reference.LstmBackward<double>(D(w), yr, sr, D(dy), dgr, dwr, b, t, h);
        Close(yr, y, $"{level} h");
        Close(dgr, dg, $"{level} dGates");
        Close(dwr, dw, $"{level} dWhh");
    }

    [Theory]
    [MemberData(nameof(Levels))]
    public void GruKernelsMatchReference(SimdLevel level)
    {
        using var _ = CpuTestSupport.Force(level);
        int b = 3, t = 5, h = 7, g = 3 * h;
        var rng = new Random(4);
        float[] xw = CpuTestSupport.Random(rng, b * t * g), w = CpuTestSupport.Random(rng, h * g, 0.5f), bias = CpuTestSupport.Random(rng, g), dy = CpuTestSupport.Random(rng, b * t * h);
        var y = new float[b * t * h];
        var state = new float[b * t * 6 * h];
        Kernels.Gru(xw, w, bias, y, state, b, t, h);
        var dx = new float[b * t * g];
        var work = new float[b * (t + 1) * g];
        Kernels.GruBackward(w, y, state, dy, dx, work, b, t, h);
        var dw = new float[h * g];
        Kernels.RecurrentWeightBackward(y, work, dw, b, t, h, g, t + 1);
        var db = new float[g];
        Kernels.GruBiasBackward(work, db, b, t, h);

        var yr = new double[y.Length];
        Reference.Gru<double>(D(xw), D(w), D(bias), yr, new double[b * t * 4 * h], b, t, h);
        var sr = new double[b * t * 4 * h];
        Reference.Gru<double>(D(xw), D(w), D(bias), yr, sr, b, t, h);
        double[] dxr = new double[dx.Length], dhw = new double[dx.Length], dwr = new double[dw.Length], dbr = new double[g];
        Reference.GruBackward<double>(D(w), yr, sr, D(dy), dxr, dhw, dwr, dbr, b, t, h);
        Close(yr, y, $"{level} h");
        Close(dxr, dx, $"{level} dXw");
        Close(dwr, dw, $"{level} dWhh");
        Close(dbr, db, $"{level} dBhh");
    }

    [Theory]
    [MemberData(nameof(Levels))]
    public void LayerNormEmbeddingAndCrossEntropyMatchReference(SimdLevel level)
    {
        using var _ = CpuTestSupport.Force(level);
        var rng = new Random(5);
        int rows = 11, f = 13;
        float[] x = CpuTestSupport.Random(rng, rows * f, 3), w = CpuTestSupport.Random(rng, f), bias = CpuTestSupport.Random(rng, f), dy = CpuTestSupport.Random(rng, rows * f);
        float[] y = new float[rows * f], stats = new float[2 * rows], dx = new float[rows * f], dw = new float[f];
        Kernels.LayerNorm(x, w, bias, y, stats, rows, f, 1e-5f);
        Kernels.LayerNormBackward(x, w, stats, dy, dx, rows, f);
        Kernels.LayerNormWeightBackward(x, stats, dy, dw, rows, f);
        double[] yr = new double[y.Length], sr = new double[stats.Length], dxr = new double[dx.Length], dwr = new double[f], dbr = new double[f];
        Reference.LayerNorm<double>(D(x), D(w), D(bias), yr, sr, rows, f, 1e-5);
        Reference.LayerNormBackward<double>(D(x), D(w), sr, D(dy), dxr, dwr, dbr, rows, f);
        Close(yr, y, "LayerNorm y");
        Close(dxr, dx, "LayerNorm dx");
        Close(dwr, dw, "LayerNorm dweight");

        float[] ids = { 3, 0, 3, 12, 5 }, table = CpuTestSupport.Random(rng, 13 * 7), e = new float[5 * 7], de = CpuTestSupport.Random(rng, 5 * 7), dt = new float[13 * 7];
        Kernels.Embedding(ids, table, e, 13, 7);
        Kernels.EmbeddingBackward(ids, de, dt, 13, 7);
        double[] er = new double[e.Length], dtr = new double[dt.Length];
        Reference.Embedding<double>(D(ids), D(table), er, 13, 7);
        Reference.EmbeddingBackward<double>(D(ids), D(de), dtr, 13, 7);
        Close(er, e, "Embedding y");
        Close(dtr, dt, "Embedding dweight");

        var targets = new float[rows * f];
        for (int r = 0; r < rows; r++) targets[r * f + (r * 5) % f] = 1;
        var p = new float[rows * f];
        float loss = Kernels.SequenceCrossEntropy(x, targets, p, rows, f);
        var dl = new float[rows * f];
        Kernels.SequenceCrossEntropyBackward(p, targets, 0.5f, dl, rows, f);
        var pr = new double[rows * f];
        double lossR = Reference.SequenceCrossEntropy<double>(D(x), D(targets), pr, rows, f);
        var dlr = new double[rows * f];
        Reference.SequenceCrossEntropyBackward<double>(pr, D(targets), 0.5, dlr, rows, f);
        Close(new[] { lossR }, new[] { loss }, "cross-entropy");
        Close(dlr, dl, "cross-entropy dlogits");
    }

    [Fact]
    public void GeluLanesMatchTheScalarAndTheReference()
    {
        var xs = Enumerable.Range(0, 160).Select(i => (i - 80) * 0.07f).ToArray();
        var dys = xs.Select((x, i) => 1f - 0.01f * i).ToArray();
        var r = new double[xs.Length];
        var dr = new double[xs.Length];
        Reference.Gelu<double>(D(xs), r);
        Reference.GeluBackward<double>(D(xs), D(dys), dr);
        for (int i = 0; i < xs.Length; i++)
        {
            Assert.True(Math.Abs(Kernels.Gelu(xs[i]) - r[i]) <= 1e-6 * (1 + Math.Abs(r[i])), $"Gelu({xs[i]})");
            Assert.True(Math.Abs(Kernels.GeluGrad(xs[i], dys[i]) - dr[i]) <= 2e-6 * (1 + Math.Abs(dr[i])), $"GeluGrad({xs[i]})");
        }
        for (int i = 0; i + 16 <= xs.Length; i += 16)
        {
            var v8 = Kernels.Gelu(Vector256.Create(xs, i));
            var g8 = Kernels.GeluGrad(Vector256.Create(xs, i), Vector256.Create(dys, i));
            var v16 = Kernels.Gelu(Vector512.Create(xs, i));
            var g16 = Kernels.GeluGrad(Vector512.Create(xs, i), Vector512.Create(dys, i));
            for (int j = 0; j < 16; j++)
            {
                if (j < 8)
                {
                    Assert.True(Math.Abs(v8[j] - r[i + j]) <= 1e-6 * (1 + Math.Abs(r[i + j])), $"Gelu256 lane {i + j}");
                    Assert.True(Math.Abs(g8[j] - dr[i + j]) <= 2e-6 * (1 + Math.Abs(dr[i + j])), $"GeluGrad256 lane {i + j}");
                }
                Assert.True(Math.Abs(v16[j] - r[i + j]) <= 1e-6 * (1 + Math.Abs(r[i + j])), $"Gelu512 lane {i + j}");
                Assert.True(Math.Abs(g16[j] - dr[i + j]) <= 2e-6 * (1 + Math.Abs(dr[i + j])), $"GeluGrad512 lane {i + j}");
            }
        }
    }
}
