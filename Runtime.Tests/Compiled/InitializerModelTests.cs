using System;
using System.Linq;
using Xunit;
using static ModelGen.Ops;

namespace ModelGen.Runtime.Tests.Compiled;

/// <summary>Initializers with a scale, declared on [Parameter] properties and carried by the generator.</summary>
[Model]
public partial class ScaledInitModel
{
    [Parameter(200, 300, Init = Init.Normal, Std = 0.5)] public partial Tensor W { get; }
    [Parameter(300, Init = Init.Uniform, Bound = 0.25)] public partial Tensor B { get; }
    [Parameter(300, 4, Init = Init.LeCunNormal)] public partial Tensor V { get; }

    [Forward] public Tensor Forward([Shape(200)] Tensor x) => MatMul(Tanh(MatMul(x, W) + B), V);
}

public class InitializerModelTests
{
    [Fact]
    public void ScalesReachTheRuntime()
    {
        var model = new ScaledInitModel(seed: 11);
        var w = model.Parameters["W"];
        var b = model.Parameters["B"];
        Assert.Equal(Init.Normal, w.Info.Init);
        Assert.Equal(0.5, w.Info.Scale);
        Assert.Equal(0.25, b.Info.Scale);
        Assert.Null(model.Parameters["V"].Info.Scale);
        var values = w.Value.ToArray();
        double mean = values.Average(), std = Math.Sqrt(values.Select(v => (v - mean) * (v - mean)).Average());
        Assert.InRange(std, 0.49, 0.51);          // 60,000 draws: the sample std is within 1% of 0.5
        Assert.InRange(mean, -0.01, 0.01);
        Assert.True(b.Value.ToArray().All(v => Math.Abs(v) <= 0.25f));
        Assert.True(b.Value.ToArray().Max() > 0.2f); // it spans the bound, not a default of 0.05
    }
}
