using System;
using Xunit;

namespace ModelGen.Runtime.Tests.Eager;

/// <summary>
/// Central-difference gradient checks of every reference kernel pair, in double: eps = 1e-6, and every element
/// must satisfy |analytic - numeric| ≤ 1e-6 · (1 + |numeric|).
/// </summary>
public class ReferenceGradientTests
{
    const double Tolerance = 1e-6;

    [Theory]
    [MemberData(nameof(OpCases.Names), MemberType = typeof(OpCases))]
    public void BackwardMatchesCentralDifferences(string op)
    {
        var c = OpCases.All[op];
        for (int seed = 1; seed <= 2; seed++)
            GradCheck.Check(c.MakeInputs(seed), c.Forward, c.Backward, Tolerance);
    }

    [Fact]
    public void TheCheckCatchesAWrongDerivative()
    {
        // tanh' written as 1 - y (instead of 1 - y²): the check must reject it.
        double[][] x = { new[] { 0.3, -1.1, 0.7 } };
        Func<double[][], double[]> forward = v =>
        {
            var y = new double[3];
            Reference.Tanh<double>(v[0], y);
            return y;
        };
        Assert.ThrowsAny<Exception>(() => GradCheck.Check(x, forward, (v, dy) =>
        {
            var y = forward(v);
            var dx = new double[3];
            for (int i = 0; i < 3; i++) dx[i] = dy[i] * (1 - y[i]);
            return new[] { dx };
        }, Tolerance));
    }

    [Fact]
    public void BroadcastToAndReduceToAreAdjoint()
    {
        // <BroadcastTo(x), y> = <x, ReduceTo(y)> exactly (up to rounding) for any x, y.
        int[] xShape = { 3, 1 }, yShape = { 2, 3, 5 };
        var rng = new Random(7);
        var x = new double[3];
        var y = new double[30];
        for (int i = 0; i < x.Length; i++) x[i] = rng.NextDouble();
        for (int i = 0; i < y.Length; i++) y[i] = rng.NextDouble();
        var bx = new double[30];
        Reference.BroadcastTo<double>(x, xShape, bx, yShape);
        var ry = new double[3];
        Reference.ReduceTo<double>(y, yShape, ry, xShape);
        Assert.Equal(GradCheck.Dot(bx, y), GradCheck.Dot(x, ry), 12);
    }

    [Fact]
    public void SoftmaxIsStableForLargeLogits()
    {
        double[] x = { 1000, 1001, 1002 };
        var y = new double[3];
        Reference.Softmax<double>(x, y, 1, 3, 1);
        Assert.Equal(0.09003057317038046, y[0], 12);
        Assert.Equal(0.6652409557748219, y[2], 12);
        var l = new double[3];
        Reference.LogSoftmax<double>(x, l, 1, 3, 1);
        Assert.Equal(Math.Log(0.6652409557748219), l[2], 12);
    }

    [Fact]
    public void SigmoidSaturatesWithoutNaN()
    {
        double[] x = { -800, 800 };
        var y = new double[2];
        Reference.Sigmoid<double>(x, y);
        Assert.Equal(0.0, y[0], 15);
        Assert.Equal(1.0, y[1], 15);
    }
}
