using System;
using System.Collections.Generic;
using ModelGen.Cpu;
using Xunit;

namespace ModelGen.Runtime.Tests.Cpu;

/// <summary>
/// Kernels against plain double-precision references, under every SIMD level, on shapes with SIMD tails
/// (17, 33 columns) and on non-last axes. Tolerances are stated per test (all well above float rounding,
/// far below the size of any indexing error).
/// </summary>
[Collection(CpuSettingsCollection.Name)]
public sealed class KernelsTests
{
    public static IEnumerable<object[]> Levels()
    {
        foreach (SimdLevel level in CpuTestSupport.AllLevels)
            yield return new object[] { level };
    }

    // (outer, axis, inner): last axis with SIMD tails, a middle axis, a first axis.
    static readonly (int Outer, int Axis, int Inner)[] s_views =
    {
        (3, 17, 1), (2, 33, 1), (4, 1, 1), (1, 100, 1), (2, 5, 7), (1, 6, 33), (3, 4, 16),
    };

    static void Near(double want, float got, double tol, string what)
    {
        if (!(Math.Abs(got - want) <= tol))
            Assert.Fail($"{what}: got {got:R}, expected {want:R} (tolerance {tol:g3})");
    }

    static double[] RefSoftmax(float[] x, int outer, int axis, int inner, bool log)
    {
        var y = new double[x.Length];
        for (int o = 0; o < outer; o++)
            for (int i = 0; i < inner; i++)
            {
                double max = double.NegativeInfinity;
                for (int a = 0; a < axis; a++)
                    max = Math.Max(max, x[(o * axis + a) * inner + i]);
                double sum = 0;
                for (int a = 0; a < axis; a++)
                    sum += Math.Exp(x[(o * axis + a) * inner + i] - max);
                for (int a = 0; a < axis; a++)
                {
                    int idx = (o * axis + a) * inner + i;
                    y[idx] = log ? x[idx] - max - Math.Log(sum) : Math.Exp(x[idx] - max) / sum;
                }
            }
        return y;
    }

    [Theory]
    [MemberData(nameof(Levels))]
    public void SoftmaxAndLogSoftmaxMatchReference(SimdLevel level)
    {
        using var _ = CpuTestSupport.Force(level);
        var rng = new Random(11);
        foreach (var (outer, axis, inner) in s_views)
        {
            float[] x = CpuTestSupport.Random(rng, outer * axis * inner, 8f);
            x[0] = 80f;   // exp(80) overflows float unless the max is subtracted
            var y = new float[x.Length];
            var ly = new float[x.Length];
            Kernels.Softmax(x, y, outer, axis, inner);
            Kernels.LogSoftmax(x, ly, outer, axis, inner);
            double[] want = RefSoftmax(x, outer, axis, inner, log: false);
            double[] wantLog = RefSoftmax(x, outer, axis, inner, log: true);
            for (int i = 0; i < x.Length; i++)
            {
                Near(want[i], y[i], 1e-6 * want[i] + 1e-7, $"softmax {outer}x{axis}x{inner} [{i}]");
                Near(wantLog[i], ly[i], 1e-5 * Math.Abs(wantLog[i]) + 1e-5, $"log-softmax {outer}x{axis}x{inner} [{i}]");
            }
            // In place.
            float[] copy = (float[])x.Clone();
            Kernels.Softmax(copy, copy, outer, axis, inner);
            Assert.Equal(y, copy);
        }
    }

    [Theory]
    [MemberData(nameof(Levels))]
    public void SoftmaxBackwardsMatchJacobian(SimdLevel level)
    {
        using var _ = CpuTestSupport.Force(level);
        var rng = new Random(12);
        foreach (var (outer, axis, inner) in s_views)
        {
            float[] x = CpuTestSupport.Random(rng, outer * axis * inner, 3f);
            float[] dy = CpuTestSupport.Random(rng, x.Length);
            double[] p = RefSoftmax(x, outer, axis, inner, log: false);
            var y = new float[x.Length];
            var ly = new float[x.Length];
            Kernels.Softmax(x, y, outer, axis, inner);
            Kernels.LogSoftmax(x, ly, outer, axis, inner);
            var dx = new float[x.Length];
            var ldx = new float[x.Length];
            Kernels.SoftmaxBackward(y, dy, dx, outer, axis, inner);
            Kernels.LogSoftmaxBackward(ly, dy, ldx, outer, axis, inner);
            // Explicit Jacobians: d softmax_a / d x_b = p_a (δ_ab − p_b); d logsoftmax_a / d x_b = δ_ab − p_b.
            for (int o = 0; o < outer; o++)
                for (int i = 0; i < inner; i++)
                    for (int b = 0; b < axis; b++)
                    {
                        int ib = (o * axis + b) * inner + i;
                        double g = 0, lg = 0;
                        for (int a = 0; a < axis; a++)
                        {
                            int ia = (o * axis + a) * inner + i;
                            double delta = a == b ? 1 : 0;
                            g += dy[ia] * p[ia] * (delta - p[ib]);
                            lg += dy[ia] * (delta - p[ib]);
                        }
                        Near(g, dx[ib], 1e-5, $"softmax backward {outer}x{axis}x{inner} [{ib}]");
                        Near(lg, ldx[ib], 1e-5 * axis, $"log-softmax backward {outer}x{axis}x{inner} [{ib}]");
                    }
        }
    }

    [Theory]
    [MemberData(nameof(Levels))]
    public void SumIsAccurateOnLongInputs(SimdLevel level)
    {
        using var _ = CpuTestSupport.Force(level);
        var rng = new Random(13);
        foreach (int n in new[] { 0, 1, 15, 17, 33, 1000, 100_003 })
        {
            float[] x = CpuTestSupport.Random(rng, n);
            double want = 0, abs = 0;
            foreach (float v in x) { want += v; abs += Math.Abs(v); }
            Near(want, Kernels.Sum(x), 1e-6 * abs + 1e-6, $"sum of {n}");
        }
        // 3e6 copies of 1.1: a plain float running sum drifts by ~1e4 here; blocked double stays within rounding.
        var big = new float[3_000_000];
        Array.Fill(big, 1.1f);
        Near(3_000_000 * (double)1.1f, Kernels.Sum(big), 1, "sum of 3e6 x 1.1");
    }

    [Theory]
    [MemberData(nameof(Levels))]
    public void ReduceSumAndBroadcastAxisMatchReference(SimdLevel level)
    {
        using var _ = CpuTestSupport.Force(level);
        var rng = new Random(14);
        foreach (var (outer, axis, inner) in s_views)
        {
            float[] x = CpuTestSupport.Random(rng, outer * axis * inner);
            var y = new float[outer * inner];
            Kernels.ReduceSum(x, outer, axis, inner, y, 0.5f);
            for (int o = 0; o < outer; o++)
                for (int i = 0; i < inner; i++)
                {
                    double s = 0;
                    for (int a = 0; a < axis; a++)
                        s += x[(o * axis + a) * inner + i];
                    Near(0.5 * s, y[o * inner + i], 1e-6 * axis, $"reduce-sum {outer}x{axis}x{inner} [{o},{i}]");
                }

            float[] dy = CpuTestSupport.Random(rng, outer * inner);
            var dx = new float[outer * axis * inner];
            Kernels.BroadcastAxis(dy, outer, axis, inner, dx, 3f);
            for (int o = 0; o < outer; o++)
                for (int a = 0; a < axis; a++)
                    for (int i = 0; i < inner; i++)
                        Assert.Equal(3f * dy[o * inner + i], dx[(o * axis + a) * inner + i]);
        }
    }

    [Theory]
    [MemberData(nameof(Levels))]
    public void SumRowsMatchesReference(SimdLevel level)
    {
        using var _ = CpuTestSupport.Force(level);
        var rng = new Random(15);
        foreach (var (rows, cols) in new[] { (7, 17), (64, 33), (3, 1), (1, 128), (5, 200) })
        {
            float[] x = CpuTestSupport.Random(rng, rows * cols);
            float[] start = CpuTestSupport.Random(rng, cols);
            var y = (float[])start.Clone();
            Kernels.SumRows(x, rows, cols, y, accumulate: true);
            var z = (float[])start.Clone();
            Kernels.SumRows(x, rows, cols, z, accumulate: false);
            for (int c = 0; c < cols; c++)
            {
                double s = 0;
                for (int r = 0; r < rows; r++)
                    s += x[r * cols + c];
                Near(start[c] + s, y[c], 1e-6 * (rows + 1), $"sum-rows accumulate {rows}x{cols} [{c}]");
                Near(s, z[c], 1e-6 * rows, $"sum-rows {rows}x{cols} [{c}]");
            }
        }
    }

    static int[] Strides(int[] shape)
    {
        var s = new int[shape.Length];
        int stride = 1;
        for (int d = shape.Length - 1; d >= 0; d--) { s[d] = stride; stride *= shape[d]; }
        return s;
    }

    /// <summary>The flat index into x (shape xShape) of the element that broadcasting puts at y index (shape yShape).</summary>
    static int SourceIndex(int yFlat, int[] yShape, int[] xShape)
    {
        int[] ys = Strides(yShape), xs = Strides(xShape);
        int shift = yShape.Length - xShape.Length, index = 0;
        for (int d = 0; d < yShape.Length; d++)
        {
            int coord = yFlat / ys[d] % yShape[d];
            int xd = d - shift;
            if (xd >= 0 && xShape[xd] != 1)
                index += coord * xs[xd];
        }
        return index;
    }

    static readonly (int[] Small, int[] Big)[] s_broadcasts =
    {
        (new[] { 3, 1 }, new[] { 2, 3, 17 }),
        (new[] { 17 }, new[] { 2, 3, 17 }),
        (Array.Empty<int>(), new[] { 2, 2 }),
        (new[] { 1, 1, 5 }, new[] { 3, 4, 5 }),
        (new[] { 2, 1, 33 }, new[] { 2, 3, 33 }),
        (new[] { 4, 1 }, new[] { 4, 1 }),
        (new[] { 1 }, new[] { 33 }),
        (new[] { 3, 1, 1 }, new[] { 2, 3, 4, 5 }),
    };

    [Theory]
    [MemberData(nameof(Levels))]
    public void BroadcastToAndReduceToMatchReference(SimdLevel level)
    {
        using var _ = CpuTestSupport.Force(level);
        var rng = new Random(16);
        foreach (var (small, big) in s_broadcasts)
        {
            int smallCount = 1, bigCount = 1;
            foreach (int d in small) smallCount *= d;
            foreach (int d in big) bigCount *= d;
            string what = $"({string.Join(",", small)}) <-> ({string.Join(",", big)})";

            float[] x = CpuTestSupport.Random(rng, smallCount);
            var y = new float[bigCount];
            Kernels.BroadcastTo(x, small, y, big);
            for (int i = 0; i < bigCount; i++)
                Assert.True(x[SourceIndex(i, big, small)] == y[i], $"broadcast {what} [{i}]");

            float[] g = CpuTestSupport.Random(rng, bigCount);
            var r = new float[smallCount];
            Array.Fill(r, float.NaN);    // ReduceTo overwrites
            Kernels.ReduceTo(g, big, r, small);
            var want = new double[smallCount];
            for (int i = 0; i < bigCount; i++)
                want[SourceIndex(i, big, small)] += g[i];
            for (int i = 0; i < smallCount; i++)
                Near(want[i], r[i], 1e-6 * bigCount, $"reduce-to {what} [{i}]");
        }
    }

    [Fact]
    public void IncompatibleShapesAreRejected()
    {
        var x = new float[6];
        var y = new float[24];
        Assert.Throws<ArgumentException>(() => Kernels.BroadcastTo(x, new[] { 2, 3 }, y, new[] { 3, 8 }));
        Assert.Throws<ArgumentException>(() => Kernels.BroadcastTo(y, new[] { 2, 3, 4 }, x, new[] { 2, 3 }));
        Assert.Throws<ArgumentException>(() => Kernels.ReduceTo(y, new[] { 4, 6 }, x, new[] { 4 }));
        Assert.Throws<ArgumentException>(() => Kernels.Softmax(x, y, 2, 4, 1));
        Assert.Throws<ArgumentException>(() => Kernels.SumRows(x, 2, 4, y, false));
    }

    [Theory]
    [MemberData(nameof(Levels))]
    public void SoftmaxCrossEntropyMatchesReference(SimdLevel level)
    {
        using var _ = CpuTestSupport.Force(level);
        var rng = new Random(17);
        foreach (var (rows, classes) in new[] { (1, 1), (5, 10), (6, 3), (4, 16), (7, 17), (64, 33), (3, 100) })
        {
            float[] logits = CpuTestSupport.Random(rng, rows * classes, 10f);
            logits[0] = 500f;                         // exp(500) overflows unless stabilized
            var labels = new int[rows];
            for (int r = 0; r < rows; r++)
                labels[r] = rng.Next(classes);
            var p = new float[rows * classes];
            float loss = Kernels.SoftmaxCrossEntropy(logits, labels, rows, classes, p);

            double[] wantP = RefSoftmax(logits, rows, classes, 1, log: false);
            double[] logP = RefSoftmax(logits, rows, classes, 1, log: true);
            double wantLoss = 0;
            for (int r = 0; r < rows; r++)
                wantLoss -= logP[r * classes + labels[r]];
            wantLoss /= rows;
            Near(wantLoss, loss, 1e-5 * Math.Abs(wantLoss) + 1e-5, $"loss {rows}x{classes}");
            for (int i = 0; i < p.Length; i++)
                Near(wantP[i], p[i], 1e-6 * wantP[i] + 1e-7, $"probabilities {rows}x{classes} [{i}]");

            var d = new float[p.Length];
            Kernels.SoftmaxCrossEntropyBackward(p, labels, rows, classes, 2f, d);
            for (int r = 0; r < rows; r++)
                for (int c = 0; c < classes; c++)
                {
                    double want = (wantP[r * classes + c] - (c == labels[r] ? 1 : 0)) * 2.0 / rows;
                    Near(want, d[r * classes + c], 1e-6, $"dlogits {rows}x{classes} [{r},{c}]");
                }
        }
    }

    [Fact]
    public void SoftmaxCrossEntropyRejectsBadLabels()
    {
        var logits = new float[6];
        var p = new float[6];
        Assert.Throws<ArgumentOutOfRangeException>(() => Kernels.SoftmaxCrossEntropy(logits, new[] { 0, 3 }, 2, 3, p));
        Assert.Throws<ArgumentOutOfRangeException>(() => Kernels.SoftmaxCrossEntropy(logits, new[] { -1, 0 }, 2, 3, p));
        Assert.Throws<ArgumentException>(() => Kernels.SoftmaxCrossEntropy(logits, new[] { 0 }, 2, 3, p));
    }

    [Fact]
    public void MeanSquaredErrorAndBackwardMatchReference()
    {
        var rng = new Random(18);
        float[] pr = CpuTestSupport.Random(rng, 37), t = CpuTestSupport.Random(rng, 37);
        double want = 0;
        for (int i = 0; i < pr.Length; i++)
            want += ((double)pr[i] - t[i]) * ((double)pr[i] - t[i]);
        want /= pr.Length;
        Near(want, Kernels.MeanSquaredError(pr, t), 1e-6 * want, "mse");
        var d = new float[pr.Length];
        Kernels.MeanSquaredErrorBackward(pr, t, 0.5f, d);
        for (int i = 0; i < pr.Length; i++)
            Near(2.0 * ((double)pr[i] - t[i]) / pr.Length * 0.5, d[i], 1e-7, $"dmse [{i}]");
        Assert.Throws<ArgumentException>(() => Kernels.MeanSquaredError(pr, t.AsSpan(1)));
    }
}
