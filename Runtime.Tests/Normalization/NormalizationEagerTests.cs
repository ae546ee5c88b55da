using System;
using System.Linq;
using Xunit;

namespace ModelGen.Runtime.Tests.Normalization;

/// <summary>
/// The eager float ops and layers against the double reference: forward values and tape gradients within
/// 1e-5·(1 + |reference|) (BatchNorm 1e-4: float statistics). Also the eager ops' argument checks.
/// </summary>
public class NormalizationEagerTests
{
    static float[] Random(int n, int seed, double scale = 1) { var r = new Random(seed); return Enumerable.Range(0, n).Select(_ => (float)((r.NextDouble() * 2 - 1) * scale)).ToArray(); }

    static double[] D(float[] a) => a.Select(v => (double)v).ToArray();

    static void Close(double[] expected, ReadOnlySpan<float> actual, string what, double tolerance = 1e-5)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(expected[i] - actual[i]) <= tolerance * (1 + Math.Abs(expected[i])), $"{what}[{i}]: reference {expected[i]}, eager {actual[i]}");
    }

    [Fact]
    public void ActivationsMatchTheDoubleReference()
    {
        var xs = Random(23, 1, 3);
        var dy = Random(23, 2);
        foreach (var (name, op, fwd, bwd) in new (string, Func<Tensor, Tensor>, Action<double[], double[]>, Action<double[], double[], double[]>)[]
        {
            ("Silu", Ops.Silu, (x, y) => Reference.Silu<double>(x, y), (x, g, d) => Reference.SiluBackward<double>(x, g, d)),
            ("LeakyRelu", x => Ops.LeakyRelu(x, 0.2), (x, y) => Reference.LeakyRelu<double>(x, y, 0.2), (x, g, d) => Reference.LeakyReluBackward<double>(x, g, d, 0.2)),
        })
        {
            var x = new Tensor(xs, 23) { RequiresGrad = true };
            var y = op(x);
            Ops.Sum(y * new Tensor(dy, 23)).Backward();
            var (ey, ed) = (new double[23], new double[23]);
            fwd(D(xs), ey);
            bwd(D(xs), D(dy), ed);
            Close(ey, y.Data, name);
            Close(ed, x.Grad!.Data, name + " gradient");
        }
    }

    [Fact]
    public void BatchNorm2dLayerMatchesTheDoubleReference()
    {
        int n = 3, c = 2, s = 6, len = n * c * s;
        var layer = new BatchNorm2d(c, epsilon: 1e-3, momentum: 0.25);
        new[] { 1.5f, -0.5f }.CopyTo(layer.Weight.Data);
        new[] { 0.1f, 0.2f }.CopyTo(layer.Bias.Data);
        var xs = Random(len, 3, 2);
        var dy = Random(len, 4);
        var x = new Tensor(xs, n, c, 2, 3) { RequiresGrad = true };
        var y = layer.Forward(x);
        Ops.Sum(y * new Tensor(dy, n, c, 2, 3)).Backward();
        var (ey, mean, inv, var) = (new double[len], new double[c], new double[c], new double[c]);
        double[] w = { 1.5, -0.5 }, b = { 0.1f, 0.2f };
        Reference.BatchNormTrain<double>(D(xs), w, b, ey, mean, inv, var, n, c, s, 1e-3);
        var (dx, dw, db) = (new double[len], new double[c], new double[c]);
        Reference.BatchNormTrainBackward<double>(D(xs), w, mean, inv, D(dy), dx, dw, db, n, c, s);
        Close(ey, y.Data, "y", 1e-4);
        Close(dx, x.Grad!.Data, "dx", 1e-4);
        Close(dw, layer.Weight.Grad!.Data, "dweight", 1e-4);
        Close(db, layer.Bias.Grad!.Data, "dbias", 1e-4);
        double[] rm = { 0, 0 }, rv = { 1, 1 };
        Reference.BatchNormUpdateRunning<double>(mean, var, rm, rv, n * s, 0.25);
        Close(rm, layer.RunningMean.Data, "running mean", 1e-4);
        Close(rv, layer.RunningVar.Data, "running var", 1e-4);

        // Eval: running statistics, and the running statistics stay.
        layer.Mode.Training = false;
        var yi = layer.Forward(new Tensor(xs, n, c, 2, 3));
        var ei = new double[len];
        Reference.BatchNormInfer<double>(D(xs), w, b, rm, rv, ei, n, c, s, 1e-3);
        Close(ei, yi.Data, "inference", 1e-4);
        Close(rm, layer.RunningMean.Data, "running mean after eval", 1e-4);
    }

    [Fact]
    public void LossesMatchTheDoubleReference()
    {
        var p = Random(12, 5, 2);
        var t = Random(12, 6);
        foreach (var (name, op, fwd) in new (string, Func<Tensor, Tensor, Tensor>, Func<double[], double[], double>)[]
        {
            ("BCE", Ops.BinaryCrossEntropyWithLogits, (a, b) => Reference.BinaryCrossEntropyWithLogits<double>(a, b)),
            ("L1", Ops.L1Loss, (a, b) => Reference.L1Loss<double>(a, b)),
            ("Huber", (a, b) => Ops.HuberLoss(a, b, 0.7), (a, b) => Reference.HuberLoss<double>(a, b, 0.7)),
        })
        {
            var pt = new Tensor(p, 3, 4) { RequiresGrad = true };
            var tt = new Tensor(t, 3, 4) { RequiresGrad = true };
            var loss = op(pt, tt);
            loss.Backward();
            Close(new[] { fwd(D(p), D(t)) }, new[] { loss.Item() }, name);
            // The tape's gradients against central differences of the double reference.
            for (int i = 0; i < 12; i++)
            {
                var (plus, minus) = (D(p), D(p));
                plus[i] += 1e-6;
                minus[i] -= 1e-6;
                double numeric = (fwd(plus, D(t)) - fwd(minus, D(t))) / 2e-6;
                Assert.True(Math.Abs(numeric - pt.Grad!.Data[i]) <= 1e-4, $"{name} dprediction[{i}]: numeric {numeric}, eager {pt.Grad!.Data[i]}");
                double targetNumeric;
                {
                    var (tp, tm) = (D(t), D(t));
                    tp[i] += 1e-6;
                    tm[i] -= 1e-6;
                    targetNumeric = (fwd(D(p), tp) - fwd(D(p), tm)) / 2e-6;
                }
                Assert.True(Math.Abs(targetNumeric - tt.Grad!.Data[i]) <= 1e-4, $"{name} dtarget[{i}]: numeric {targetNumeric}, eager {tt.Grad!.Data[i]}");
            }
        }
        var logits = new Tensor(Random(12, 7, 2), 4, 3) { RequiresGrad = true };
        var ce = Ops.CrossEntropy(logits, new Labels(new[] { 2, 0, 1, 1 }), 0.25);
        ce.Backward();
        var probs = new double[12];
        double expected = Reference.CrossEntropy<double>(D(logits.ToArray()), new[] { 2, 0, 1, 1 }, 4, 3, 0.25, probs);
        Close(new[] { expected }, new[] { ce.Item() }, "cross-entropy");
        var grad = new double[12];
        Reference.CrossEntropyBackward<double>(probs, new[] { 2, 0, 1, 1 }, 4, 3, 0.25, 1, grad);
        Close(grad, logits.Grad!.Data, "cross-entropy gradient");
    }

    [Fact]
    public void EagerOpsCheckTheirArguments()
    {
        var a = new Tensor(2, 3);
        Assert.Contains("(2, 3) and (3, 2)", Assert.Throws<ArgumentException>(() => Ops.L1Loss(a, new Tensor(3, 2))).Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => Ops.HuberLoss(a, a, 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => Ops.CrossEntropy(a, new Labels(new[] { 0, 1 }), 1.5));
        Assert.Throws<ArgumentOutOfRangeException>(() => Ops.CrossEntropy(a, new Labels(new[] { 0, 3 })));
        Assert.Contains("expected (B, 4)", Assert.Throws<ArgumentException>(() => new BatchNorm1d(4).Forward(a)).Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => new Dropout(-0.1));
        Assert.Throws<ArgumentOutOfRangeException>(() => new BatchNorm2d(0));
    }
}
