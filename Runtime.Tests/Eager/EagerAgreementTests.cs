using System;
using Xunit;

namespace ModelGen.Runtime.Tests.Eager;

/// <summary>
/// The eager Tensor path (float) against the double reference on the same (float-representable) inputs:
/// forward outputs and the gradients that Backward accumulates must satisfy |float - double| ≤ 1e-5 · (1 + |double|).
/// </summary>
public class EagerAgreementTests
{
    const double Tolerance = 1e-5;

    [Theory]
    [MemberData(nameof(OpCases.Names), MemberType = typeof(OpCases))]
    public void EagerForwardAndBackwardAgreeWithReference(string op)
    {
        var c = OpCases.All[op];
        var inputs = c.MakeInputs(seed: 3);
        var tensors = new Tensor[inputs.Length];
        for (int t = 0; t < inputs.Length; t++)
            tensors[t] = new Tensor(Array.ConvertAll(inputs[t], v => (float)v), c.Shapes[t]) { RequiresGrad = true };

        var y = c.Eager(tensors);
        var expected = c.Forward(inputs);
        Assert.Equal(expected.Length, y.Length);
        AssertClose(expected, y.Data, "forward");

        // Backward of L = Σ r ⊙ y gives dL/dx = VJP(r).
        var rng = new Random(99);
        var r = new double[y.Length];
        for (int i = 0; i < r.Length; i++) r[i] = (float)(rng.NextDouble() * 2 - 1);
        var weights = new Tensor(Array.ConvertAll(r, v => (float)v), y.GetShape());
        Ops.Sum(y * weights).Backward();

        var expectedGrads = c.Backward(inputs, r);
        for (int t = 0; t < tensors.Length; t++)
        {
            Assert.NotNull(tensors[t].Grad);
            AssertClose(expectedGrads[t]!, tensors[t].Grad!.Data, $"gradient of input {t}");
        }
    }

    static void AssertClose(double[] expected, ReadOnlySpan<float> actual, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
        {
            double error = Math.Abs(actual[i] - expected[i]) / (1 + Math.Abs(expected[i]));
            Assert.True(error <= Tolerance, $"{what} element {i}: float {actual[i]:R} vs double {expected[i]:R} (scaled error {error:E2})");
        }
    }
}
