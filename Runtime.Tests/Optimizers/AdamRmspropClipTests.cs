using System;
using ModelGen;
using Xunit;

namespace ModelGen.Runtime.Tests.Optimizers;

/// <summary>Adam, RMSprop and gradient clipping against PyTorch's formulas in double.</summary>
public class AdamRmspropClipTests
{
    // 35 + 7 elements at offsets 0 and 48: the 512-bit, 256-bit and scalar-tail loops all run, over arena padding too.
    static ParameterStore Store(int seed = 3) => new(new[]
    {
        new ParameterInfo("a.weight", new[] { 5, 7 }, 0, Init.HeUniform),
        new ParameterInfo("a.bias", new[] { 7 }, 48, Init.HeUniform),
    }, seed);

    static void FillGradients(ParameterStore s, int step, double scale = 1)
    {
        s.Gradients.Clear();
        foreach (var p in s)
            for (int i = 0; i < p.Info.Length; i++)
                p.Gradient.Data[i] = (float)(scale * Math.Sin(0.37 * i + 1.3 * step + p.Info.Offset));
    }

    static double[] ToDouble(ReadOnlySpan<float> x)
    {
        var d = new double[x.Length];
        for (int i = 0; i < x.Length; i++) d[i] = x[i];
        return d;
    }

    static void AssertClose(double[] expected, ReadOnlySpan<float> actual, double tol)
    {
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(actual[i] - expected[i]) <= tol, $"element {i}: {actual[i]} vs {expected[i]}");
    }

    [Theory]
    [InlineData(0.0)]
    [InlineData(0.1)]
    public void Adam_matches_the_pytorch_formula_in_double(double wd)
    {
        const double lr = 0.01, b1 = 0.9, b2 = 0.999, eps = 1e-8;
        var s = Store();
        var opt = new Adam((float)lr, (float)b1, (float)b2, (float)eps, (float)wd);
        double[] p = ToDouble(s.Values);
        var m = new double[p.Length];
        var v = new double[p.Length];
        for (int t = 1; t <= 5; t++)
        {
            FillGradients(s, t);
            double[] g = ToDouble(s.Gradients);
            for (int i = 0; i < p.Length; i++)
            {
                double gi = g[i] + wd * p[i];                        // L2, not decoupled
                m[i] = b1 * m[i] + (1 - b1) * gi;
                v[i] = b2 * v[i] + (1 - b2) * gi * gi;
                double mhat = m[i] / (1 - Math.Pow(b1, t)), vhat = v[i] / (1 - Math.Pow(b2, t));
                p[i] -= lr * mhat / (Math.Sqrt(vhat) + eps);
            }
            opt.Step(s);
        }
        AssertClose(p, s.Values, 1e-5);
    }

    [Fact]
    public void Adam_weight_decay_worked_by_hand()
    {
        // p = 1, g = 0.5, wd = 0.5: g' = 1, so m̂ = 1, v̂ = 1 and the step is lr·1/(1+ε): p = 1 - 0.1 = 0.9.
        // AdamW with the same numbers decays p to 1·(1 - 0.05) = 0.95 and steps by 0.1 (g = 0.5 normalizes to 1): 0.85.
        var s = new ParameterStore(new[] { new ParameterInfo("w", new[] { 1 }, 0, Init.Zeros) }, 0);
        s.Values[0] = 1; s.Gradients[0] = 0.5f;
        new Adam(0.1f, weightDecay: 0.5f).Step(s);
        Assert.Equal(0.9f, s.Values[0], 1e-6f);
        var w = new ParameterStore(new[] { new ParameterInfo("w", new[] { 1 }, 0, Init.Zeros) }, 0);
        w.Values[0] = 1; w.Gradients[0] = 0.5f;
        new AdamW(0.1f, weightDecay: 0.5f).Step(w);
        Assert.Equal(0.85f, w.Values[0], 1e-6f);
    }

    [Theory]
    [InlineData(0.0, 0.0, false)]
    [InlineData(0.0, 0.0, true)]
    [InlineData(0.9, 0.0, false)]
    [InlineData(0.9, 0.05, true)]
    [InlineData(0.0, 0.1, false)]
    public void RMSprop_matches_the_pytorch_formula_in_double(double momentum, double wd, bool centered)
    {
        const double lr = 0.01, alpha = 0.9, eps = 1e-8;
        var s = Store();
        var opt = new RMSprop((float)lr, (float)alpha, (float)eps, (float)wd, (float)momentum, centered);
        double[] p = ToDouble(s.Values);
        var sq = new double[p.Length];
        var avg = new double[p.Length];
        var buf = new double[p.Length];
        for (int t = 0; t < 5; t++)
        {
            FillGradients(s, t);
            double[] g = ToDouble(s.Gradients);
            for (int i = 0; i < p.Length; i++)
            {
                double gi = g[i] + wd * p[i];
                sq[i] = alpha * sq[i] + (1 - alpha) * gi * gi;
                double d;
                if (centered)
                {
                    avg[i] = alpha * avg[i] + (1 - alpha) * gi;
                    d = Math.Sqrt(sq[i] - avg[i] * avg[i]) + eps;
                }
                else d = Math.Sqrt(sq[i]) + eps;
                if (momentum > 0)
                {
                    buf[i] = momentum * buf[i] + gi / d;
                    p[i] -= lr * buf[i];
                }
                else p[i] -= lr * gi / d;
            }
            opt.Step(s);
        }
        Assert.Equal(5, opt.StepCount);
        AssertClose(p, s.Values, 2e-5);
    }

    [Fact]
    public void RMSprop_first_step_worked_by_hand()
    {
        // g = 2, α = 0.75: s = 0.25·4 = 1, d = 1 + ε, p = 1 - 0.1·2 = 0.8. Centered: a = 0.5, d = sqrt(1 - 0.25) = 0.8660254,
        // p = 1 - 0.1·2/0.8660254 = 0.7690598.
        var s = new ParameterStore(new[] { new ParameterInfo("w", new[] { 1 }, 0, Init.Zeros) }, 0);
        s.Values[0] = 1; s.Gradients[0] = 2;
        new RMSprop(0.1f, alpha: 0.75f).Step(s);
        Assert.Equal(0.8f, s.Values[0], 1e-6f);
        s.Values[0] = 1;
        new RMSprop(0.1f, alpha: 0.75f, centered: true).Step(s);
        Assert.Equal(0.7690598f, s.Values[0], 1e-6f);
    }

    [Fact]
    public void Clipping_scales_the_whole_arena_by_max_norm_over_norm()
    {
        // Gradients 3 and 4 in two parameters: norm 5. maxNorm 1 scales by 1/(5 + 1e-6); maxNorm 10 leaves them alone.
        var s = new ParameterStore(new[]
        {
            new ParameterInfo("a", new[] { 1 }, 0, Init.Zeros),
            new ParameterInfo("b", new[] { 1 }, 16, Init.Zeros),
        }, 0);
        s.Gradients[0] = 3; s.Gradients[16] = 4;
        var opt = new Sgd(1f) { ClipGradientNorm = 1f };
        Assert.Null(opt.LastGradientNorm);
        opt.Step(s);
        Assert.Equal(5.0, opt.LastGradientNorm!.Value, 12);
        float coef = (float)(1 / (5 + 1e-6));
        Assert.Equal(3 * coef, s.Gradients[0]);
        Assert.Equal(4 * coef, s.Gradients[16]);
        Assert.Equal(-0.6f, s.Values[0], 1e-6f);
        Assert.Equal(-0.8f, s.Values[16], 1e-6f);

        s.Gradients[0] = 3; s.Gradients[16] = 4;
        opt.ClipGradientNorm = 10f;
        opt.Step(s);
        Assert.Equal(3f, s.Gradients[0]);
        Assert.Equal(4f, s.Gradients[16]);
        Assert.Equal(-3.6f, s.Values[0], 1e-6f);
    }

    [Fact]
    public void Clipping_matches_the_norm_in_double_and_every_optimizer_gets_it()
    {
        foreach (Optimizer opt in new Optimizer[] { new Sgd(0.1f), new Adam(0.01f), new AdamW(0.01f), new RMSprop(0.01f) })
        {
            var s = Store();
            FillGradients(s, 1, scale: 10);
            double norm = 0;
            foreach (float g in s.Gradients) norm += (double)g * g;
            norm = Math.Sqrt(norm);
            double[] expected = ToDouble(s.Gradients);
            float coef = (float)(0.5 / (norm + 1e-6));
            opt.ClipGradientNorm = 0.5f;
            opt.Step(s);
            Assert.Equal(norm, opt.LastGradientNorm!.Value, 1e-9);
            for (int i = 0; i < expected.Length; i++) Assert.Equal((float)expected[i] * coef, s.Gradients[i]);
            double after = 0;
            foreach (float g in s.Gradients) after += (double)g * g;
            Assert.Equal(0.5, Math.Sqrt(after), 1e-5);
        }
    }

    [Fact]
    public void Clipping_leaves_an_optimizer_alone_when_off()
    {
        var s = Store();
        FillGradients(s, 2, scale: 100);
        float[] before = s.Gradients.ToArray();
        var opt = new Adam();
        opt.Step(s);
        Assert.Equal(before, s.Gradients.ToArray());
        Assert.Null(opt.LastGradientNorm);
        Assert.Throws<ArgumentOutOfRangeException>(() => opt.ClipGradientNorm = 0f);
        Assert.Throws<ArgumentOutOfRangeException>(() => opt.ClipGradientNorm = float.PositiveInfinity);
        Assert.Throws<ArgumentOutOfRangeException>(() => opt.ClipGradientNorm = float.NaN);
    }

    [Fact]
    public void A_nan_gradient_makes_every_gradient_nan_as_in_pytorch()
    {
        var s = Store();
        FillGradients(s, 0);
        s.Gradients[3] = float.NaN;
        var opt = new Sgd(0.1f) { ClipGradientNorm = 1f };
        opt.Step(s);
        Assert.True(double.IsNaN(opt.LastGradientNorm!.Value));
        Assert.True(float.IsNaN(s.Gradients[0]));
    }

    [Theory]
    [InlineData("adam")]
    [InlineData("rmsprop")]
    [InlineData("rmsprop-centered-momentum")]
    [InlineData("clip")]
    public void Every_simd_path_gives_the_same_bits(string kind)
    {
        float[]? reference = null;
        double? referenceNorm = null;
        foreach (int bits in new[] { 512, 256, 0 })
        {
            int saved = Optimizer.MaxVectorBits;
            Optimizer.MaxVectorBits = bits;
            try
            {
                var s = Store();
                Optimizer opt = kind switch
                {
                    "adam" => new Adam(0.01f, weightDecay: 0.01f),
                    "rmsprop" => new RMSprop(0.01f, weightDecay: 0.01f),
                    "rmsprop-centered-momentum" => new RMSprop(0.01f, momentum: 0.9f, centered: true),
                    _ => new AdamW(0.01f) { ClipGradientNorm = 0.3f },
                };
                for (int t = 0; t < 3; t++) { FillGradients(s, t); opt.Step(s); }
                float[] result = s.Values.ToArray();
                if (reference == null) { reference = result; referenceNorm = opt.LastGradientNorm; }
                else
                {
                    Assert.Equal(reference, result);
                    Assert.Equal(referenceNorm, opt.LastGradientNorm);
                }
            }
            finally { Optimizer.MaxVectorBits = saved; }
        }
    }

    [Fact]
    public void Sum_of_squares_has_the_same_bits_on_every_path()
    {
        var x = new float[1000 + 13];
        var rng = new Random(5);
        for (int i = 0; i < x.Length; i++) x[i] = (float)(rng.NextDouble() * 2 - 1) * (i % 7 == 0 ? 1e4f : 1e-3f);
        foreach (int n in new[] { 0, 1, 15, 16, 17, 33, 1013 })
        {
            double? reference = null;
            foreach (int bits in new[] { 512, 256, 0 })
            {
                int saved = Optimizer.MaxVectorBits;
                Optimizer.MaxVectorBits = bits;
                try
                {
                    double sum = Optimizer.SumOfSquares(x.AsSpan(0, n));
                    if (reference == null) reference = sum;
                    else Assert.Equal(BitConverter.DoubleToInt64Bits(reference.Value), BitConverter.DoubleToInt64Bits(sum));
                }
                finally { Optimizer.MaxVectorBits = saved; }
            }
        }
    }

    [Fact]
    public void Steps_with_clipping_allocate_nothing_after_the_first()
    {
        var s = Store();
        FillGradients(s, 0);
        var opts = new Optimizer[]
        {
            new Adam(1e-3f, weightDecay: 0.01f) { ClipGradientNorm = 0.1f },
            new RMSprop(1e-3f, momentum: 0.9f, centered: true, weightDecay: 0.01f) { ClipGradientNorm = 0.1f },
            new AdamW() { ClipGradientNorm = 0.1f },
        };
        foreach (var o in opts) o.Step(s);
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 100; i++) foreach (var o in opts) o.Step(s);
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    [Fact]
    public void Bad_hyperparameters_are_rejected()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new Adam(beta2: 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => new Adam(weightDecay: -1));
        Assert.Throws<ArgumentOutOfRangeException>(() => new RMSprop(0.01f, alpha: 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => new RMSprop(0.01f, momentum: -0.1f));
        Assert.Throws<ArgumentOutOfRangeException>(() => new RMSprop(0.01f, epsilon: float.NaN));
        Assert.Throws<ArgumentOutOfRangeException>(() => new RMSprop(-0.01f));
    }
}
