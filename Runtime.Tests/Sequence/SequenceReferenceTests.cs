using System;
using System.Linq;
using ModelGen.Runtime.Tests.Eager;
using Xunit;

namespace ModelGen.Runtime.Tests.Sequence;

/// <summary>
/// The sequence family's reference kernels in double: central-difference gradient checks (eps 1e-6, every element
/// |analytic − numeric| ≤ 1e-6·(1 + |numeric|)), hand-computed cases, and the eager float ops against the double reference.
/// </summary>
public class SequenceReferenceTests
{
    const double Tolerance = 1e-6;

    static double[] Random(Random rng, int n, double scale = 1) => Enumerable.Range(0, n).Select(_ => (rng.NextDouble() * 2 - 1) * scale).ToArray();

    [Fact]
    public void EmbeddingGradientScattersIntoTheWeight()
    {
        var rng = new Random(1);
        double[] ids = { 2, 0, 2, 4, 1, 2 }; // id 2 three times: its gradient row is a sum; id 3 none
        var weight = Random(rng, 5 * 3);
        GradCheck.Check(new[] { ids, weight },
            v => { var y = new double[18]; Reference.Embedding<double>(v[0], v[1], y, 5, 3); return y; },
            (v, dy) => { var dw = new double[15]; Reference.EmbeddingBackward<double>(v[0], dy, dw, 5, 3); return new double[]?[] { null, dw }; },
            Tolerance);
        Assert.Throws<ArgumentOutOfRangeException>(() => Reference.Embedding<double>(new[] { 5.0 }, weight, new double[3], 5, 3));
        Assert.Throws<ArgumentOutOfRangeException>(() => Reference.Embedding<double>(new[] { 1.5 }, weight, new double[3], 5, 3));
    }

    [Theory]
    [InlineData(1, 7)]
    [InlineData(4, 5)]
    public void LayerNormGradients(int rows, int features)
    {
        var rng = new Random(rows);
        double[][] inputs = { Random(rng, rows * features, 2), Random(rng, features), Random(rng, features) };
        double[] Forward(double[][] v)
        {
            var y = new double[rows * features];
            Reference.LayerNorm<double>(v[0], v[1], v[2], y, new double[2 * rows], rows, features, 1e-5);
            return y;
        }
        GradCheck.Check(inputs, Forward, (v, dy) =>
        {
            var stats = new double[2 * rows];
            Reference.LayerNorm<double>(v[0], v[1], v[2], new double[rows * features], stats, rows, features, 1e-5);
            var g = new[] { new double[rows * features], new double[features], new double[features] };
            Reference.LayerNormBackward<double>(v[0], v[1], stats, dy, g[0], g[1], g[2], rows, features);
            return g;
        }, 1e-5); // the normalization's 1/σ amplifies the difference quotient's rounding: 1e-5
    }

    [Fact]
    public void LayerNormOfAKnownRow()
    {
        // x = (1, 2, 3, 6): mean 3, biased variance (4 + 1 + 0 + 9)/4 = 3.5
        double[] x = { 1, 2, 3, 6 }, y = new double[4], stats = new double[2];
        Reference.LayerNorm<double>(x, new double[] { 1, 1, 1, 2 }, new double[] { 0, 0, 0, 1 }, y, stats, 1, 4, 0);
        double s = Math.Sqrt(3.5);
        Assert.Equal(3, stats[0], 12);
        Assert.Equal(1 / s, stats[1], 12);
        Assert.Equal(new[] { -2 / s, -1 / s, 0, 2 * 3 / s + 1 }, y, (a, b) => Math.Abs(a - b) < 1e-12);
    }

    [Fact]
    public void GeluGradientAndKnownValues()
    {
        var rng = new Random(3);
        double[] x = Random(rng, 13, 4).Concat(new[] { 0.0, 3.5, -3.5, 7 }).ToArray();
        GradCheck.Check(new[] { x },
            v => { var y = new double[v[0].Length]; Reference.Gelu<double>(v[0], y); return y; },
            (v, dy) => { var dx = new double[v[0].Length]; Reference.GeluBackward<double>(v[0], dy, dx); return new[] { dx }; },
            Tolerance);
        // erf against tabulated values (Abramowitz & Stegun table 7.1), and GELU(1) = Φ(1) = 0.8413447460685429
        Assert.Equal(0.5204998778130465, Reference.Erf(0.5), 14);
        Assert.Equal(0.9953222650189527, Reference.Erf(2), 14);
        Assert.Equal(-0.9999779095030014, Reference.Erf(-3), 14);
        Assert.Equal(0.9999999845827421, Reference.Erf(4), 14);
        var one = new double[1];
        Reference.Gelu<double>(new[] { 1.0 }, one);
        Assert.Equal(0.8413447460685429, one[0], 14);
    }

    [Fact]
    public void FloatErfIsWithinOneMillionth()
    {
        double worst = 0;
        for (double x = -6; x <= 6; x += 0.001)
            worst = Math.Max(worst, Math.Abs(ModelGen.Cpu.Kernels.Erf((float)x) - Reference.Erf((float)x)));
        Assert.True(worst < 1e-6, $"max |erf error| {worst:E2}");
    }

    [Theory]
    [InlineData(false, 1, 4)]
    [InlineData(true, 1, 4)]
    [InlineData(false, 2, 3)]
    [InlineData(true, 2, 5)]
    public void AttentionGradients(bool causal, int heads, int time)
    {
        int batch = 2, dim = 2 * heads + heads; // dh = 3
        var rng = new Random(time + (causal ? 10 : 0));
        int n = batch * time * dim;
        double[][] inputs = { Random(rng, n), Random(rng, n), Random(rng, n) };
        double[] Forward(double[][] v)
        {
            var y = new double[n];
            Reference.Attention<double>(v[0], v[1], v[2], y, new double[batch * heads * time * time], batch, time, dim, heads, causal);
            return y;
        }
        GradCheck.Check(inputs, Forward, (v, dy) =>
        {
            var p = new double[batch * heads * time * time];
            Reference.Attention<double>(v[0], v[1], v[2], new double[n], p, batch, time, dim, heads, causal);
            var g = new[] { new double[n], new double[n], new double[n] };
            Reference.AttentionBackward<double>(v[0], v[1], v[2], p, dy, g[0], g[1], g[2], batch, time, dim, heads);
            return g;
        }, Tolerance);
    }

    [Fact]
    public void CausalAttentionRowByHand()
    {
        // One head, dim 2, T = 3. Row i = 1 of a causal head sees positions 0 and 1 only.
        // q1 = (1, 0); k0 = (0, 1), k1 = (2, 0), k2 = (100, 0) (masked: would dominate if it leaked).
        // scores: q1·k0 = 0, q1·k1 = 2; scaled by 1/√2: 0 and √2.
        // p = softmax(0, √2) = (1, e^√2)/(1 + e^√2); e^√2 = 4.113250378782927 → p = (0.19557, 0.80443), p2 = 0.
        // v0 = (1, 0), v1 = (0, 1): y1 = p0·v0 + p1·v1 = (0.19557, 0.80443).
        double[] q = { 0, 0, 1, 0, 0, 0 }, k = { 0, 1, 2, 0, 100, 0 }, v = { 1, 0, 0, 1, 5, 5 };
        var y = new double[6];
        var p = new double[9];
        Reference.Attention<double>(q, k, v, y, p, 1, 3, 2, 1, causal: true);
        double e = Math.Exp(Math.Sqrt(2)), p0 = 1 / (1 + e), p1 = e / (1 + e);
        Assert.Equal(0.1955703, p0, 7); // 1 / 5.113250378782927
        Assert.Equal(new[] { p0, p1, 0 }, p.Skip(3).Take(3).ToArray(), (a, b) => Math.Abs(a - b) < 1e-12);
        Assert.Equal(p0, y[2], 12);
        Assert.Equal(p1, y[3], 12);
        Assert.Equal(new[] { 1.0, 0, 0 }, p.Take(3).ToArray()); // row 0 sees only itself
        // Without the mask, position 2's key (score 100/√2) takes all of row 1.
        Reference.Attention<double>(q, k, v, y, p, 1, 3, 2, 1, causal: false);
        Assert.True(p[5] > 0.999999);
        // The float kernel agrees on the masked row.
        var yf = new float[6];
        var pf = new float[9];
        ModelGen.Cpu.Kernels.Attention(q.Select(x => (float)x).ToArray(), k.Select(x => (float)x).ToArray(), v.Select(x => (float)x).ToArray(), yf, pf, 1, 3, 2, 1, true);
        Assert.Equal((float)p0, yf[2], 5);
        Assert.Equal(0f, pf[5]);
    }

    [Theory]
    [InlineData(3)]
    [InlineData(4)]
    [InlineData(5)]
    public void LstmGradientsThroughTime(int time)
    {
        int batch = 2, hidden = 3, G = 4 * hidden;
        var rng = new Random(time);
        double[][] inputs = { Random(rng, batch * time * G), Random(rng, hidden * G, 0.7) };
        double[] Forward(double[][] v)
        {
            var y = new double[batch * time * hidden];
            Reference.Lstm<double>(v[0], v[1], y, new double[batch * time * 5 * hidden], batch, time, hidden);
            return y;
        }
        GradCheck.Check(inputs, Forward, (v, dy) =>
        {
            var y = new double[batch * time * hidden];
            var state = new double[batch * time * 5 * hidden];
            Reference.Lstm<double>(v[0], v[1], y, state, batch, time, hidden);
            var g = new[] { new double[v[0].Length], new double[v[1].Length] };
            Reference.LstmBackward<double>(v[1], y, state, dy, g[0], g[1], batch, time, hidden);
            return g;
        }, Tolerance);
    }

    [Theory]
    [InlineData(3)]
    [InlineData(4)]
    [InlineData(5)]
    public void GruGradientsThroughTime(int time)
    {
        int batch = 2, hidden = 3, G = 3 * hidden;
        var rng = new Random(time + 7);
        double[][] inputs = { Random(rng, batch * time * G), Random(rng, hidden * G, 0.7), Random(rng, G) };
        double[] Forward(double[][] v)
        {
            var y = new double[batch * time * hidden];
            Reference.Gru<double>(v[0], v[1], v[2], y, new double[batch * time * 4 * hidden], batch, time, hidden);
            return y;
        }
        GradCheck.Check(inputs, Forward, (v, dy) =>
        {
            var y = new double[batch * time * hidden];
            var state = new double[batch * time * 4 * hidden];
            Reference.Gru<double>(v[0], v[1], v[2], y, state, batch, time, hidden);
            var g = new[] { new double[v[0].Length], new double[v[1].Length], new double[v[2].Length] };
            Reference.GruBackward<double>(v[1], y, state, dy, g[0], new double[v[0].Length], g[1], g[2], batch, time, hidden);
            return g;
        }, Tolerance);
    }

    [Fact]
    public void LstmOneStepByHand()
    {
        // T = 1, H = 1, zero state: gates pre-activations (i, f, g, o) = (0, 5, 1, 2):
        // c = σ(0)·tanh(1) = 0.5·0.7615941559557649; h = σ(2)·tanh(c).
        double[] xw = { 0, 5, 1, 2 }, y = new double[1], state = new double[5];
        Reference.Lstm<double>(xw, new double[4], y, state, 1, 1, 1);
        double c = 0.5 * Math.Tanh(1), h = 1 / (1 + Math.Exp(-2)) * Math.Tanh(c);
        Assert.Equal(c, state[4], 14);
        Assert.Equal(h, y[0], 14);
    }

    [Fact]
    public void GruOneStepByHand()
    {
        // T = 1, H = 1, zero state: hw = bHh = (0, 0, 3); r = σ(1 + 0), z = σ(−1), n = tanh(0.5 + r·3); h = (1 − z)·n.
        double[] xw = { 1, -1, 0.5 }, y = new double[1], state = new double[4];
        Reference.Gru<double>(xw, new double[3], new double[] { 0, 0, 3 }, y, state, 1, 1, 1);
        double r = 1 / (1 + Math.Exp(-1)), z = 1 / (1 + Math.Exp(1)), n = Math.Tanh(0.5 + r * 3);
        Assert.Equal((1 - z) * n, y[0], 14);
    }

    [Fact]
    public void SequenceCrossEntropyGradientAndValue()
    {
        var rng = new Random(5);
        int rows = 4, classes = 5;
        var logits = Random(rng, rows * classes, 3);
        var targets = new double[rows * classes];
        for (int r = 0; r < rows; r++) targets[r * classes + (r * 2) % classes] = 1;
        GradCheck.Check(new[] { logits, targets },
            v => new[] { Reference.SequenceCrossEntropy<double>(v[0], v[1], new double[rows * classes], rows, classes) },
            (v, dy) =>
            {
                var p = new double[rows * classes];
                Reference.SequenceCrossEntropy<double>(v[0], v[1], p, rows, classes);
                var d = new double[rows * classes];
                Reference.SequenceCrossEntropyBackward<double>(p, v[1], dy[0], d, rows, classes);
                return new double[]?[] { d, null };
            }, Tolerance);
        // Uniform logits: the loss is log(classes) whatever the one-hot targets.
        Assert.Equal(Math.Log(classes), Reference.SequenceCrossEntropy<double>(new double[rows * classes], targets, new double[rows * classes], rows, classes), 12);
    }

    [Fact]
    public void EagerFloatOpsMatchTheDoubleReference()
    {
        // A whole small transformer-and-LSTM chain through the eager float ops vs the same in double: 1e-5 relative.
        var rng = new Random(9);
        int b = 2, t = 4, d = 6;
        var x = Random(rng, b * t * d);
        var xt = new Tensor(x.Select(v => (float)v).ToArray(), b, t, d);
        var attention = Ops.ScaledDotProductAttention(xt, xt, xt, 2, causal: true);
        var gelu = Ops.Gelu(attention);
        var yd = new double[x.Length];
        Reference.Attention<double>(x, x, x, yd, new double[b * 2 * t * t], b, t, d, 2, true);
        Reference.Gelu<double>(yd, yd);
        for (int i = 0; i < yd.Length; i++) Assert.True(Math.Abs(gelu.Data[i] - yd[i]) <= 1e-5 * (1 + Math.Abs(yd[i])), $"element {i}");
    }
}
