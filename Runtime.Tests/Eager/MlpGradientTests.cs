using System;
using Xunit;

namespace ModelGen.Runtime.Tests.Eager;

/// <summary>
/// Backward through Linear → Relu → Linear → SoftmaxCrossEntropy on the eager float path against central differences
/// (eps 1e-6) of the same network computed in double with the reference kernels.
/// </summary>
public class MlpGradientTests
{
    const int Batch = 4, In = 5, Hidden = 7, Classes = 3;
    static readonly int[] LabelValues = { 0, 2, 1, 2 };

    static float[] Random(int n, int seed, double scale)
    {
        var rng = new Random(seed);
        var v = new float[n];
        for (int i = 0; i < n; i++) v[i] = (float)((rng.NextDouble() * 2 - 1) * scale);
        return v;
    }

    /// <summary>The loss in double: parameters w1 (In,Hidden), b1 (Hidden), w2 (Hidden,Classes), b2 (Classes).</summary>
    static double ReferenceLoss(double[] x, double[][] p)
    {
        var h = new double[Batch * Hidden];
        Reference.MatMul<double>(x, p[0], h, Batch, In, Hidden);
        var hb = new double[h.Length];
        Reference.Add<double>(h, new[] { Batch, Hidden }, p[1], new[] { Hidden }, hb, new[] { Batch, Hidden });
        var a = new double[h.Length];
        Reference.Relu<double>(hb, a);
        var o = new double[Batch * Classes];
        Reference.MatMul<double>(a, p[2], o, Batch, Hidden, Classes);
        var ob = new double[o.Length];
        Reference.Add<double>(o, new[] { Batch, Classes }, p[3], new[] { Classes }, ob, new[] { Batch, Classes });
        return Reference.SoftmaxCrossEntropy<double>(ob, LabelValues, Batch, Classes, new double[o.Length]);
    }

    static void AssertMatchesCentralDifferences(float[] x, Tensor[] parameters, float eagerLoss)
    {
        const double Eps = 1e-6, Tolerance = 2e-5; // |float grad - numeric| ≤ 2e-5 · (1 + |numeric|)
        double[] xd = Array.ConvertAll(x, v => (double)v);
        var p = new double[parameters.Length][];
        for (int i = 0; i < p.Length; i++) p[i] = Array.ConvertAll(parameters[i].ToArray(), v => (double)v);

        Assert.Equal(ReferenceLoss(xd, p), eagerLoss, 5);
        for (int t = 0; t < p.Length; t++)
        {
            var grad = parameters[t].Grad;
            Assert.NotNull(grad);
            for (int j = 0; j < p[t].Length; j++)
            {
                double saved = p[t][j];
                p[t][j] = saved + Eps;
                double plus = ReferenceLoss(xd, p);
                p[t][j] = saved - Eps;
                double minus = ReferenceLoss(xd, p);
                p[t][j] = saved;
                double numeric = (plus - minus) / (2 * Eps);
                double error = Math.Abs(grad!.Data[j] - numeric) / (1 + Math.Abs(numeric));
                Assert.True(error <= Tolerance, $"parameter {t} element {j}: backward {grad.Data[j]:R} vs numeric {numeric:R}");
            }
        }
    }

    [Fact]
    public void StandAloneLayers()
    {
        var hidden = new Linear(In, Hidden, bias: true, seed: 1);
        var output = new Linear(Hidden, Classes, bias: true, seed: 2);
        // Non-zero biases so that their gradients and their effect on Relu are exercised.
        Random(Hidden, 3, 0.3).CopyTo(hidden.Bias!.Data);
        Random(Classes, 4, 0.3).CopyTo(output.Bias!.Data);
        var x = Random(Batch * In, 5, 1.0);

        var loss = Ops.SoftmaxCrossEntropy(output.Forward(Ops.Relu(hidden.Forward(new Tensor(x, Batch, In)))), new Labels(LabelValues));
        loss.Backward();

        AssertMatchesCentralDifferences(x, new[] { hidden.Weight, hidden.Bias!, output.Weight, output.Bias! }, loss.Item());
    }

    [Fact]
    public void LayersBoundToAParameterStoreWriteTheGradientArena()
    {
        var layout = new[]
        {
            new ParameterInfo("hidden.weight", new[] { In, Hidden }, 0, Init.HeUniform),
            new ParameterInfo("hidden.bias", new[] { Hidden }, 48, Init.Zeros),
            new ParameterInfo("output.weight", new[] { Hidden, Classes }, 64, Init.HeUniform),
            new ParameterInfo("output.bias", new[] { Classes }, 96, Init.Zeros),
        };
        var store = new ParameterStore(layout, seed: 11);
        Random(Hidden, 3, 0.3).CopyTo(store["hidden.bias"].Value.Data);
        Random(Classes, 4, 0.3).CopyTo(store["output.bias"].Value.Data);
        var hidden = new Linear(In, Hidden);
        var output = new Linear(Hidden, Classes);
        hidden.Bind(store, "hidden");
        output.Bind(store, "output");
        Assert.Same(store["hidden.weight"].Value, hidden.Weight);
        foreach (var parameter in store)
        {
            Assert.True(parameter.Value.RequiresGrad);
            Assert.Same(parameter.Gradient, parameter.Value.Grad);
        }

        var x = Random(Batch * In, 5, 1.0);
        store.Gradients.Fill(123f); // stale values: ZeroGradients must clear them before Backward accumulates
        store.ZeroGradients();
        var loss = Ops.SoftmaxCrossEntropy(output.Forward(Ops.Relu(hidden.Forward(new Tensor(x, Batch, In)))), new Labels(LabelValues));
        loss.Backward();

        AssertMatchesCentralDifferences(x, new[] { hidden.Weight, hidden.Bias!, output.Weight, output.Bias! }, loss.Item());
        // The gradient arena itself holds them (what an optimizer reads).
        Assert.Equal(store["output.bias"].Gradient.ToArray(), store.Gradients.Slice(96, Classes).ToArray());
        Assert.Contains(store.Gradients.Slice(96, Classes).ToArray(), g => g != 0);
    }
}
