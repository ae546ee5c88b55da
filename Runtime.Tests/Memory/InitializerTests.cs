using System;
using ModelGen;
using Xunit;

namespace ModelGen.Runtime.Tests.Memory;

/// <summary>
/// Initializers: seeded statistics on 100,000 samples. The standard error of the mean is std/sqrt(n) ≈ 0.0032·std and of
/// the standard deviation ≈ 0.0022·std, so the tolerances (0.02·std for the mean, 0.01·std for the deviation) are over
/// four standard errors; the seed is fixed, so the test is deterministic anyway.
/// </summary>
public class InitializerTests
{
    const int N = 100_000;

    static (double Mean, double Std, double Min, double Max) Stats(ReadOnlySpan<float> x)
    {
        double sum = 0, min = double.MaxValue, max = double.MinValue;
        foreach (float v in x) { sum += v; min = Math.Min(min, v); max = Math.Max(max, v); }
        double mean = sum / x.Length, ss = 0;
        foreach (float v in x) ss += (v - mean) * (v - mean);
        return (mean, Math.Sqrt(ss / x.Length), min, max);
    }

    static float[] Fill(ParameterInfo info, int seed = 11)
    {
        var data = new float[info.Length];
        Initializers.Fill(data, info, new Random(seed));
        return data;
    }

    static void AssertNormal(float[] x, double std)
    {
        var s = Stats(x);
        Assert.True(Math.Abs(s.Mean) < 0.02 * std, $"mean {s.Mean} for std {std}");
        Assert.True(Math.Abs(s.Std - std) < 0.01 * std, $"std {s.Std}, expected {std}");
    }

    static void AssertUniform(float[] x, double bound)
    {
        var s = Stats(x);
        Assert.True(s.Min >= -bound && s.Max <= bound, $"range [{s.Min}, {s.Max}] outside ±{bound}");
        Assert.True(s.Min < -0.99 * bound && s.Max > 0.99 * bound, $"range [{s.Min}, {s.Max}] does not reach ±{bound}");
        double std = bound / Math.Sqrt(3);
        Assert.True(Math.Abs(s.Mean) < 0.02 * std, $"mean {s.Mean}");
        Assert.True(Math.Abs(s.Std - std) < 0.01 * std, $"std {s.Std}, expected {std}");
    }

    [Fact]
    public void Normal_uses_the_default_std_0_02_or_the_given_scale()
    {
        AssertNormal(Fill(new ParameterInfo("w", new[] { N }, 0, Init.Normal)), Initializers.DefaultStd);
        AssertNormal(Fill(new ParameterInfo("w", new[] { 100, 1000 }, 0, Init.Normal, 1.5)), 1.5);
    }

    [Fact]
    public void Uniform_uses_the_default_bound_0_05_or_the_given_scale()
    {
        AssertUniform(Fill(new ParameterInfo("w", new[] { N }, 0, Init.Uniform)), Initializers.DefaultBound);
        AssertUniform(Fill(new ParameterInfo("w", new[] { N }, 0, Init.Uniform, 0.3)), 0.3);
    }

    [Fact]
    public void LeCun_initializers_scale_by_fan_in()
    {
        // (400, 250): fanIn 400, so std 1/20 = 0.05 and bound sqrt(3/400).
        AssertNormal(Fill(new ParameterInfo("w", new[] { 400, 250 }, 0, Init.LeCunNormal)), 0.05);
        AssertUniform(Fill(new ParameterInfo("w", new[] { 400, 250 }, 0, Init.LeCunUniform)), Math.Sqrt(3.0 / 400));
    }

    [Fact]
    public void Existing_initializers_keep_their_statistics()
    {
        AssertNormal(Fill(new ParameterInfo("w", new[] { 200, 500 }, 0, Init.HeNormal)), Math.Sqrt(2.0 / 200));
        AssertUniform(Fill(new ParameterInfo("w", new[] { 200, 500 }, 0, Init.XavierUniform)), Math.Sqrt(6.0 / 700));
    }

    [Theory]
    [InlineData(Init.Normal)]
    [InlineData(Init.Uniform)]
    [InlineData(Init.LeCunNormal)]
    [InlineData(Init.LeCunUniform)]
    public void Initializers_are_deterministic_under_a_seed(Init init)
    {
        var info = new ParameterInfo("w", new[] { 31, 17 }, 0, init);
        Assert.Equal(Fill(info, 4), Fill(info, 4));
        Assert.NotEqual(Fill(info, 4), Fill(info, 5));
        var a = new ParameterStore(new[] { info, new ParameterInfo("b", new[] { 9 }, 528, Init.Normal, 0.5) }, seed: 7);
        var b = new ParameterStore(new[] { info, new ParameterInfo("b", new[] { 9 }, 528, Init.Normal, 0.5) }, seed: 7);
        Assert.Equal(a.Values.ToArray(), b.Values.ToArray());
    }

    [Fact]
    public void New_members_are_appended_so_old_numbers_stay()
    {
        Assert.Equal(5, (int)Init.XavierNormal);
        Assert.Equal(6, (int)Init.Normal);
        Assert.Equal(7, (int)Init.Uniform);
        Assert.Equal(8, (int)Init.LeCunNormal);
        Assert.Equal(9, (int)Init.LeCunUniform);
    }

    [Fact]
    public void The_attribute_defaults_and_the_scale_are_documented_values()
    {
        var attr = new ParameterAttribute(3, 4);
        Assert.Equal(0.02, attr.Std);
        Assert.Equal(0.05, attr.Bound);
        Assert.Null(new ParameterInfo("w", new[] { 3 }, 0, Init.Normal).Scale);
        Assert.Equal(0.5, new ParameterInfo("w", new[] { 3 }, 0, Init.Normal, 0.5).Scale);
        Assert.Throws<ArgumentOutOfRangeException>(() => new ParameterInfo("w", new[] { 3 }, 0, Init.Normal, -1));
        Assert.Throws<ArgumentOutOfRangeException>(() => new ParameterInfo("w", new[] { 3 }, 0, Init.Normal, double.NaN));
    }
}
