using System;
using ModelGen;
using Xunit;

namespace ModelGen.Runtime.Tests.Optimizers;

public class OptimizerTests
{
    // Two parameters with lengths that exercise the 512-bit, 256-bit and scalar-tail loops (and arena padding).
    static ParameterStore Store(int seed = 3) => new(new[]
    {
        new ParameterInfo("a.weight", new[] { 5, 7 }, 0, Init.HeUniform),
        new ParameterInfo("a.bias", new[] { 7 }, 48, Init.HeUniform),
    }, seed);

    static void FillGradients(ParameterStore s, int step)
    {
        var g = s.Gradients;
        g.Clear();
        foreach (var p in s)
            for (int i = 0; i < p.Info.Length; i++)
                p.Gradient.Data[i] = (float)Math.Sin(0.37 * i + 1.3 * step + p.Info.Offset);
    }

    static double[] ToDouble(ReadOnlySpan<float> x)
    {
        var d = new double[x.Length];
        for (int i = 0; i < x.Length; i++) d[i] = x[i];
        return d;
    }

    [Theory]
    [InlineData(0f, false, 0f)]
    [InlineData(0.9f, false, 0f)]
    [InlineData(0.9f, true, 0f)]
    [InlineData(0.8f, true, 0.05f)]
    [InlineData(0f, false, 0.1f)]
    public void Sgd_matches_the_pytorch_formula_in_double(float momentum, bool nesterov, float wd)
    {
        const float lr = 0.05f;
        var s = Store();
        var opt = new Sgd(lr, momentum, nesterov, wd);
        double[] p = ToDouble(s.Values);
        double[]? buf = null;
        for (int step = 0; step < 4; step++)
        {
            FillGradients(s, step);
            double[] g = ToDouble(s.Gradients);
            for (int i = 0; i < p.Length; i++)
            {
                double gi = g[i] + wd * p[i];
                if (momentum != 0)
                {
                    buf ??= new double[p.Length];
                    buf[i] = step == 0 ? gi : momentum * buf[i] + gi;
                    gi = nesterov ? gi + momentum * buf[i] : buf[i];
                }
                p[i] -= lr * gi;
            }
            opt.Step(s);
        }
        Assert.Equal(4, opt.StepCount);
        var v = s.Values;
        for (int i = 0; i < p.Length; i++) Assert.True(Math.Abs(v[i] - p[i]) <= 1e-5, $"element {i}: {v[i]} vs {p[i]}");
    }

    [Fact]
    public void AdamW_matches_the_pytorch_formula_in_double()
    {
        const double lr = 0.01, b1 = 0.9, b2 = 0.999, eps = 1e-8, wd = 0.1;
        var s = Store();
        var opt = new AdamW((float)lr, (float)b1, (float)b2, (float)eps, (float)wd);
        double[] p = ToDouble(s.Values);
        var m = new double[p.Length];
        var v = new double[p.Length];
        for (int t = 1; t <= 5; t++)
        {
            FillGradients(s, t);
            double[] g = ToDouble(s.Gradients);
            for (int i = 0; i < p.Length; i++)
            {
                p[i] *= 1 - lr * wd;
                m[i] = b1 * m[i] + (1 - b1) * g[i];
                v[i] = b2 * v[i] + (1 - b2) * g[i] * g[i];
                double mhat = m[i] / (1 - Math.Pow(b1, t)), vhat = v[i] / (1 - Math.Pow(b2, t));
                p[i] -= lr * mhat / (Math.Sqrt(vhat) + eps);
            }
            opt.Step(s);
        }
        var values = s.Values;
        for (int i = 0; i < p.Length; i++) Assert.True(Math.Abs(values[i] - p[i]) <= 1e-5, $"element {i}: {values[i]} vs {p[i]}");
    }

    static ParameterStore Scalar(float value, float grad)
    {
        var s = new ParameterStore(new[] { new ParameterInfo("w", new[] { 1 }, 0, Init.Zeros) }, 0);
        s.Values[0] = value;
        s.Gradients[0] = grad;
        return s;
    }

    [Fact]
    public void Sgd_momentum_two_steps_worked_by_hand()
    {
        // p = 1, g = 1 each step, lr 0.1, momentum 0.9: buf 1 -> p 0.9; buf 0.9 + 1 = 1.9 -> p 0.9 - 0.19 = 0.71.
        var s = Scalar(1, 1);
        var opt = new Sgd(0.1f, momentum: 0.9f);
        opt.Step(s);
        Assert.Equal(0.9f, s.Values[0], 1e-6f);
        opt.Step(s);
        Assert.Equal(0.71f, s.Values[0], 1e-6f);

        // Nesterov: g' = g + 0.9 buf: step 1 g' = 1.9 -> p 0.81; step 2 buf 1.9, g' = 1 + 1.71 = 2.71 -> p 0.539.
        var n = Scalar(1, 1);
        var nes = new Sgd(0.1f, momentum: 0.9f, nesterov: true);
        nes.Step(n);
        Assert.Equal(0.81f, n.Values[0], 1e-6f);
        nes.Step(n);
        Assert.Equal(0.539f, n.Values[0], 1e-6f);
    }

    [Fact]
    public void AdamW_two_steps_worked_by_hand()
    {
        // With a constant gradient, m̂ = g and v̂ = g², so each step moves lr·g/(|g|+ε) ≈ lr after the decay p *= 1 - lr·wd.
        // p = 1, g = 0.5, lr = 0.1, wd = 0.01: step 1 p = 0.999 - 0.1 = 0.899; step 2 p = 0.899·0.999 - 0.1 = 0.798101.
        var s = Scalar(1, 0.5f);
        var opt = new AdamW(0.1f, weightDecay: 0.01f);
        opt.Step(s);
        Assert.Equal(0.899f, s.Values[0], 1e-6f);
        opt.Step(s);
        Assert.Equal(0.798101f, s.Values[0], 1e-6f);
        Assert.Equal(2, opt.StepCount);
    }

    [Theory]
    [InlineData("sgd")]
    [InlineData("nesterov")]
    [InlineData("adamw")]
    public void Every_simd_path_gives_the_same_bits(string kind)
    {
        float[]? reference = null;
        foreach (int bits in new[] { 512, 256, 0 })
        {
            int saved = Optimizer.MaxVectorBits;
            Optimizer.MaxVectorBits = bits;
            try
            {
                var s = Store();
                Optimizer opt = kind switch
                {
                    "sgd" => new Sgd(0.1f, weightDecay: 0.01f),
                    "nesterov" => new Sgd(0.1f, 0.9f, true, 0.01f),
                    _ => new AdamW(0.01f),
                };
                for (int t = 0; t < 3; t++) { FillGradients(s, t); opt.Step(s); }
                float[] result = s.Values.ToArray();
                if (reference == null) reference = result;
                else Assert.Equal(reference, result);
            }
            finally { Optimizer.MaxVectorBits = saved; }
        }
    }

    [Fact]
    public void Step_allocates_nothing_after_the_first()
    {
        var s = Store();
        FillGradients(s, 0);
        var sgd = new Sgd(0.01f, 0.9f, true, 0.01f);
        var adam = new AdamW();
        sgd.Step(s);
        adam.Step(s);
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 100; i++) { sgd.Step(s); adam.Step(s); }
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    [Fact]
    public void An_optimizer_refuses_a_second_model()
    {
        var opt = new AdamW();
        opt.Step(Store());
        var ex = Assert.Throws<InvalidOperationException>(() => opt.Step(Store()));
        Assert.Contains("one optimizer per model", ex.Message);
    }

    [Fact]
    public void Bad_hyperparameters_are_rejected()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new Sgd(-1));
        Assert.Throws<ArgumentOutOfRangeException>(() => new Sgd(0.1f, momentum: 1));
        Assert.Throws<ArgumentException>(() => new Sgd(0.1f, nesterov: true));
        Assert.Throws<ArgumentOutOfRangeException>(() => new AdamW(beta1: 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => new AdamW(float.NaN));
    }
}
