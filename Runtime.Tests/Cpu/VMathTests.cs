using System;
using System.Runtime.Intrinsics;
using ModelGen.Cpu;
using Xunit;

namespace ModelGen.Runtime.Tests.Cpu;

/// <summary>
/// VMath against double-precision Math over [−100, 100] (dense near 0) and special values. Tolerance:
/// |got − want| ≤ 2e-6·|want| + 1e-37 (the absolute term only matters where sigmoid underflows, below e^−85).
/// </summary>
public sealed class VMathTests
{
    static float[] Inputs()
    {
        var list = new System.Collections.Generic.List<float>();
        for (double x = -100; x <= 100; x += 0.0371)
            list.Add((float)x);
        for (double x = -2; x <= 2; x += 0.000731)
            list.Add((float)x);
        foreach (float x in new[] { 0f, -0f, 1e-30f, -1e-30f, 1e-7f, -1e-7f, 0.5f, -0.5f, 0.49999997f, 9f, 10f, 10.5f, 87f, 88f, 89f, -87f, -88f, -89f, 1e30f, -1e30f, float.MaxValue, float.MinValue })
            list.Add(x);
        while (list.Count % 16 != 0)
            list.Add(0.25f);
        return list.ToArray();
    }

    static void Check(string what, float x, float got, double want)
    {
        double tol = 2e-6 * Math.Abs(want) + 1e-37;
        if (!(Math.Abs(got - want) <= tol))
            Assert.Fail($"{what}({x:R}) = {got:R}, expected {want:R} (tolerance {tol:g3})");
    }

    static double Sigmoid(double x) => 1 / (1 + Math.Exp(-x));

    [Fact]
    public void ScalarMatchesDouble()
    {
        foreach (float x in Inputs())
        {
            Check("Tanh", x, VMath.Tanh(x), Math.Tanh(x));
            Check("Sigmoid", x, VMath.Sigmoid(x), Sigmoid(x));
        }
    }

    [Fact]
    public void Vector256MatchesDouble()
    {
        float[] xs = Inputs();
        for (int i = 0; i < xs.Length; i += 8)
        {
            Vector256<float> v = Vector256.Create(xs, i);
            Vector256<float> t = VMath.Tanh(v), s = VMath.Sigmoid(v);
            for (int l = 0; l < 8; l++)
            {
                Check("Tanh256", xs[i + l], t.GetElement(l), Math.Tanh(xs[i + l]));
                Check("Sigmoid256", xs[i + l], s.GetElement(l), Sigmoid(xs[i + l]));
            }
        }
    }

    [Fact]
    public void Vector512MatchesDouble()
    {
        float[] xs = Inputs();
        for (int i = 0; i < xs.Length; i += 16)
        {
            Vector512<float> v = Vector512.Create(xs, i);
            Vector512<float> t = VMath.Tanh(v), s = VMath.Sigmoid(v);
            for (int l = 0; l < 16; l++)
            {
                Check("Tanh512", xs[i + l], t.GetElement(l), Math.Tanh(xs[i + l]));
                Check("Sigmoid512", xs[i + l], s.GetElement(l), Sigmoid(xs[i + l]));
            }
        }
    }

    [Fact]
    public void InfinitiesSaturateAndNaNPropagates()
    {
        Assert.Equal(1f, VMath.Tanh(float.PositiveInfinity));
        Assert.Equal(-1f, VMath.Tanh(float.NegativeInfinity));
        Assert.Equal(1f, VMath.Sigmoid(float.PositiveInfinity));
        Assert.True(VMath.Sigmoid(float.NegativeInfinity) < 1e-37f);
        Assert.True(float.IsNaN(VMath.Tanh(float.NaN)));
        Assert.True(float.IsNaN(VMath.Sigmoid(float.NaN)));

        Vector512<float> v = Vector512.Create(float.PositiveInfinity, float.NegativeInfinity, float.NaN, 0f, 1f, -1f, 2f, -2f, 3f, -3f, 4f, -4f, 5f, -5f, 6f, -6f);
        Vector512<float> t = VMath.Tanh(v), s = VMath.Sigmoid(v);
        Assert.Equal(1f, t.GetElement(0));
        Assert.Equal(-1f, t.GetElement(1));
        Assert.True(float.IsNaN(t.GetElement(2)));
        Assert.Equal(1f, s.GetElement(0));
        Assert.True(s.GetElement(1) < 1e-37f);
        Assert.True(float.IsNaN(s.GetElement(2)));
        Vector256<float> t256 = VMath.Tanh(v.GetLower()), s256 = VMath.Sigmoid(v.GetLower());
        Assert.Equal(-1f, t256.GetElement(1));
        Assert.True(float.IsNaN(t256.GetElement(2)) && float.IsNaN(s256.GetElement(2)));
    }
}
