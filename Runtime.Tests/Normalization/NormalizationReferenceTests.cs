using System;
using System.Linq;
using ModelGen.Runtime.Tests.Eager;
using Xunit;

namespace ModelGen.Runtime.Tests.Normalization;

/// <summary>
/// The Normalization and Losses reference kernels in double: central-difference gradient checks (eps 1e-6, every
/// element within 1e-6·(1 + |numeric|), as ReferenceGradientTests) and small cases worked out by hand.
/// </summary>
public class NormalizationReferenceTests
{
    const double Tolerance = 1e-6;

    static double[] Random(int n, int seed, double scale = 1, double shift = 0)
    {
        var rng = new Random(seed);
        return Enumerable.Range(0, n).Select(_ => (rng.NextDouble() * 2 - 1) * scale + shift).ToArray();
    }

    /// <summary>Values away from 0 (kinks of leaky ReLU and |x|): |x| in [0.1, 1.1].</summary>
    static double[] AwayFromZero(int n, int seed)
    {
        var rng = new Random(seed);
        return Enumerable.Range(0, n).Select(_ => (rng.Next(2) * 2 - 1) * (0.1 + rng.NextDouble())).ToArray();
    }

    [Fact]
    public void SiluGradient() => GradCheck.Check(new[] { Random(11, 1, 3) },
        v => { var y = new double[11]; Reference.Silu<double>(v[0], y); return y; },
        (v, dy) => { var dx = new double[11]; Reference.SiluBackward<double>(v[0], dy, dx); return new[] { dx }; }, Tolerance);

    [Fact]
    public void LeakyReluGradient() => GradCheck.Check(new[] { AwayFromZero(11, 2) },
        v => { var y = new double[11]; Reference.LeakyRelu<double>(v[0], y, 0.07); return y; },
        (v, dy) => { var dx = new double[11]; Reference.LeakyReluBackward<double>(v[0], dy, dx, 0.07); return new[] { dx }; }, Tolerance);

    [Theory]
    [InlineData(4, 3, 1)]   // BatchNorm1d: (4, 3)
    [InlineData(3, 2, 5)]   // BatchNorm2d: (3, 2, 5) positions per channel
    public void BatchNormTrainGradient(int n, int c, int s)
    {
        int len = n * c * s;
        double[][] inputs = { Random(len, 3, 2), Random(c, 4, 1, 1), Random(c, 5) };
        double[] Forward(double[][] v)
        {
            var y = new double[len];
            Reference.BatchNormTrain<double>(v[0], v[1], v[2], y, new double[c], new double[c], new double[c], n, c, s, 1e-5);
            return y;
        }
        double[]?[] Backward(double[][] v, double[] dy)
        {
            var (mean, inv, var) = (new double[c], new double[c], new double[c]);
            Reference.BatchNormTrain<double>(v[0], v[1], v[2], new double[len], mean, inv, var, n, c, s, 1e-5);
            var (dx, dw, db) = (new double[len], new double[c], new double[c]);
            Reference.BatchNormTrainBackward<double>(v[0], v[1], mean, inv, dy, dx, dw, db, n, c, s);
            return new[] { dx, dw, db };
        }
        GradCheck.Check(inputs, Forward, Backward, 1e-5); // the batch statistics make the map less linear: 1e-5
    }

    [Fact]
    public void BatchNormInferGradient()
    {
        int n = 3, c = 2, s = 4, len = n * c * s;
        var rm = Random(c, 6);
        var rv = Random(c, 7, 0.5, 1.5);
        double[][] inputs = { Random(len, 8), Random(c, 9, 1, 1), Random(c, 10) };
        GradCheck.Check(inputs,
            v => { var y = new double[len]; Reference.BatchNormInfer<double>(v[0], v[1], v[2], rm, rv, y, n, c, s, 1e-3); return y; },
            (v, dy) =>
            {
                var (dx, dw, db) = (new double[len], new double[c], new double[c]);
                Reference.BatchNormInferBackward<double>(v[0], v[1], rm, rv, dy, dx, dw, db, n, c, s, 1e-3);
                return new[] { dx, dw, db };
            }, Tolerance);
    }

    [Fact]
    public void DropoutGradientIsTheMask()
    {
        var mask = new double[13];
        Reference.DropoutMask<double>(mask, 0.4, seed: 5, salt: 6, step: 7);
        GradCheck.Check(new[] { Random(13, 11) },
            v => { var y = new double[13]; Reference.ApplyMask<double>(v[0], mask, y); return y; },
            (v, dy) => { var dx = new double[13]; Reference.ApplyMask<double>(dy, mask, dx); return new[] { dx }; }, Tolerance);
    }

    [Fact]
    public void LossGradients()
    {
        double[][] pt = { Random(10, 12, 3), Random(10, 13) };
        GradCheck.Check(pt, v => new[] { Reference.BinaryCrossEntropyWithLogits<double>(v[0], v[1]) },
            (v, dy) => { var (a, b) = (new double[10], new double[10]); Reference.BinaryCrossEntropyWithLogitsBackward<double>(v[0], v[1], dy[0], a, b); return new[] { a, b }; }, Tolerance);

        double[][] apart = { AwayFromZero(10, 14), new double[10] };
        GradCheck.Check(apart, v => new[] { Reference.L1Loss<double>(v[0], v[1]) },
            (v, dy) => { var (a, b) = (new double[10], new double[10]); Reference.L1LossBackward<double>(v[0], v[1], dy[0], a, b); return new[] { a, b }; }, Tolerance);

        // Both sides of delta = 0.6: |d| up to 2 (no value near the seam at ±0.6 matters: the loss is C¹ there).
        double[][] wide = { Random(12, 15, 2), Random(12, 16, 0.2) };
        GradCheck.Check(wide, v => new[] { Reference.HuberLoss<double>(v[0], v[1], 0.6) },
            (v, dy) => { var (a, b) = (new double[12], new double[12]); Reference.HuberLossBackward<double>(v[0], v[1], 0.6, dy[0], a, b); return new[] { a, b }; }, Tolerance);

        int[] labels = { 2, 0, 3 };
        GradCheck.Check(new[] { Random(12, 17, 2) },
            v => new[] { Reference.CrossEntropy<double>(v[0], labels, 3, 4, 0.2, new double[12]) },
            (v, dy) =>
            {
                var p = new double[12];
                Reference.CrossEntropy<double>(v[0], labels, 3, 4, 0.2, p);
                var d = new double[12];
                Reference.CrossEntropyBackward<double>(p, labels, 3, 4, 0.2, dy[0], d);
                return new[] { d };
            }, Tolerance);
    }

    [Fact]
    public void BatchNormOfATwoByThreeBatch()
    {
        // x = [[1, 2, 3], [3, 6, 9]]: per feature mean [2, 4, 6], biased variance [1, 4, 9], so with weight 1 and
        // bias 0 every output is ∓1·sqrt(var/(var + eps)). Running update (momentum 0.1) from mean 0, var 1 with the
        // unbiased variance (×2/1 = [2, 8, 18]): mean [0.2, 0.4, 0.6], var 0.9 + 0.1·[2, 8, 18] = [1.1, 1.7, 2.7].
        double[] x = { 1, 2, 3, 3, 6, 9 }, y = new double[6];
        var (mean, inv, var) = (new double[3], new double[3], new double[3]);
        double eps = 1e-5;
        Reference.BatchNormTrain<double>(x, new double[] { 1, 1, 1 }, new double[3], y, mean, inv, var, 2, 3, 1, eps);
        Assert.Equal(new double[] { 2, 4, 6 }, mean);
        Assert.Equal(new double[] { 1, 4, 9 }, var);
        double[] v = { 1, 4, 9 };
        for (int j = 0; j < 3; j++)
        {
            double k = Math.Sqrt(v[j] / (v[j] + eps));
            Assert.Equal(-k, y[j], 12);
            Assert.Equal(k, y[3 + j], 12);
            Assert.Equal(1 / Math.Sqrt(v[j] + eps), inv[j], 12);
        }
        double[] rm = { 0, 0, 0 }, rv = { 1, 1, 1 };
        Reference.BatchNormUpdateRunning<double>(mean, var, rm, rv, count: 2, momentum: 0.1);
        Assert.Equal(new[] { 0.2, 0.4, 0.6 }, rm.Select(a => Math.Round(a, 12)));
        Assert.Equal(new[] { 1.1, 1.7, 2.7 }, rv.Select(a => Math.Round(a, 12)));

        // The float kernel agrees to float precision.
        var yf = new float[6];
        var stats = new float[9];
        ModelGen.Cpu.Kernels.BatchNormForward(x.Select(a => (float)a).ToArray(), new float[] { 1, 1, 1 }, new float[3], yf, stats, 2, 3, 1, (float)eps);
        for (int i = 0; i < 6; i++) Assert.Equal(y[i], yf[i], 1e-6);
    }

    [Fact]
    public void LabelSmoothingOnATwoByThreeExample()
    {
        // Row 0: logits [0, 0, 0], label 0: p = 1/3 each, −log p = ln 3 for every class, so the loss is ln 3 for any ε.
        // Row 1: logits [0, ln 2, 0], label 1: p = [1/4, 1/2, 1/4]; ε = 0.3 gives 0.7·ln 2 + 0.1·(ln 4 + ln 2 + ln 4) = 1.2·ln 2.
        // Mean: (ln 3 + 1.2 ln 2)/2. Gradient of row 1: (p − q)/2 with q = [0.1, 0.8, 0.1]: [0.075, −0.15, 0.075].
        double[] logits = { 0, 0, 0, 0, Math.Log(2), 0 };
        int[] labels = { 0, 1 };
        var p = new double[6];
        double loss = Reference.CrossEntropy<double>(logits, labels, 2, 3, 0.3, p);
        Assert.Equal((Math.Log(3) + 1.2 * Math.Log(2)) / 2, loss, 12);
        var d = new double[6];
        Reference.CrossEntropyBackward<double>(p, labels, 2, 3, 0.3, 1, d);
        double third = 1.0 / 3;
        double[] expected = { (third - 0.8) / 2, (third - 0.1) / 2, (third - 0.1) / 2, 0.075, -0.15, 0.075 };
        for (int i = 0; i < 6; i++) Assert.Equal(expected[i], d[i], 12);

        // ε = 0 is the plain softmax cross-entropy.
        float plain = Reference.SoftmaxCrossEntropy<float>(logits.Select(a => (float)a).ToArray(), labels, 2, 3, new float[6]);
        Assert.Equal(plain, (float)Reference.CrossEntropy<double>(logits, labels, 2, 3, 0, p), 6);
        // The kernel agrees.
        Assert.Equal(loss, ModelGen.Cpu.Kernels.CrossEntropy(logits.Select(a => (float)a).ToArray(), labels, 2, 3, 0.3f, new float[6]), 6);
    }

    [Fact]
    public void BinaryCrossEntropyOnKnownValues()
    {
        // (x, t) = (0, 1): ln 2; (2, 0): ln(1 + e²); (−3, 0.5): 1.5 + ln(1 + e^−3); (100, 0): 100 (no overflow).
        double[] x = { 0, 2, -3, 100 }, t = { 1, 0, 0.5, 0 };
        double expected = (Math.Log(2) + Math.Log(1 + Math.Exp(2)) + 1.5 + Math.Log(1 + Math.Exp(-3)) + 100) / 4;
        Assert.Equal(expected, Reference.BinaryCrossEntropyWithLogits<double>(x, t), 12);
        Assert.Equal(expected, ModelGen.Cpu.Kernels.BinaryCrossEntropyWithLogits(x.Select(a => (float)a).ToArray(), t.Select(a => (float)a).ToArray()), 4);
        float big = ModelGen.Cpu.Kernels.BinaryCrossEntropyWithLogits(new float[] { -200f, 300f }, new float[] { 1f, 0f });
        Assert.Equal(250f, big, 3);
    }

    [Fact]
    public void HuberOnBothSidesOfDelta()
    {
        // delta 1: d = 0.5 is quadratic (0.125); d = −3 is linear (1·(3 − 0.5) = 2.5). Mean 1.3125.
        // Gradient: [0.5, −1]/2 (clamped on the linear side).
        double[] p = { 1.5, -1 }, t = { 1, 2 };
        Assert.Equal(1.3125, Reference.HuberLoss<double>(p, t, 1.0), 12);
        var (dp, dt) = (new double[2], new double[2]);
        Reference.HuberLossBackward<double>(p, t, 1.0, 1.0, dp, dt);
        Assert.Equal(new[] { 0.25, -0.5 }, dp);
        Assert.Equal(new[] { -0.25, 0.5 }, dt);
        Assert.Equal(1.3125f, ModelGen.Cpu.Kernels.HuberLoss(new[] { 1.5f, -1f }, new[] { 1f, 2f }, 1f), 6);
        // L1 on the same values: (0.5 + 3)/2.
        Assert.Equal(1.75, Reference.L1Loss<double>(p, t), 12);
    }
}
