using System;
using Xunit;

namespace ModelGen.Runtime.Tests.Eager;

/// <summary>Central-difference gradient checks in double precision.</summary>
static class GradCheck
{
    public const double Epsilon = 1e-6;

    /// <summary>
    /// Checks <paramref name="backward"/> against central differences of L(x) = Σ r ⊙ forward(x) with a fixed random r:
    /// every analytic element a and numeric n must satisfy |a - n| ≤ tolerance · (1 + |n|).
    /// <paramref name="backward"/> gets (inputs, dL/dy = r) and returns one gradient per input (null = not differentiable, skipped).
    /// Returns the largest |a - n| / (1 + |n|) seen.
    /// </summary>
    public static double Check(double[][] inputs, Func<double[][], double[]> forward, Func<double[][], double[], double[]?[]> backward,
        double tolerance = 1e-6, int seed = 12345)
    {
        var y = forward(inputs);
        var rng = new Random(seed);
        var r = new double[y.Length];
        for (int i = 0; i < r.Length; i++) r[i] = rng.NextDouble() * 2 - 1;

        var analytic = backward(Copy(inputs), r);
        Assert.Equal(inputs.Length, analytic.Length);
        double worst = 0;
        int checkedInputs = 0;
        for (int t = 0; t < inputs.Length; t++)
        {
            var grad = analytic[t];
            if (grad is null) continue;
            checkedInputs++;
            Assert.Equal(inputs[t].Length, grad.Length);
            for (int j = 0; j < inputs[t].Length; j++)
            {
                var plus = Copy(inputs);
                plus[t][j] += Epsilon;
                var minus = Copy(inputs);
                minus[t][j] -= Epsilon;
                double numeric = (Dot(r, forward(plus)) - Dot(r, forward(minus))) / (2 * Epsilon);
                double error = Math.Abs(grad[j] - numeric) / (1 + Math.Abs(numeric));
                worst = Math.Max(worst, error);
                Assert.True(error <= tolerance,
                    $"input {t} element {j}: analytic {grad[j]:R} vs numeric {numeric:R} (scaled error {error:E2} > {tolerance:E1})");
            }
        }
        Assert.True(checkedInputs > 0, "no gradient was checked");
        return worst;
    }

    public static double Dot(double[] a, double[] b)
    {
        Assert.Equal(a.Length, b.Length);
        double s = 0;
        for (int i = 0; i < a.Length; i++) s += a[i] * b[i];
        return s;
    }

    public static double[][] Copy(double[][] x)
    {
        var c = new double[x.Length][];
        for (int i = 0; i < x.Length; i++) c[i] = (double[])x[i].Clone();
        return c;
    }
}
