using System;
using Xunit;
using static ModelGen.Ops;

namespace ModelGen.Runtime.Tests.Eager;

/// <summary>Hand-computed values, tape behaviour and error messages of the eager path.</summary>
public class EagerBehaviourTests
{
    const int Digits = 6; // float results compared to 6 decimal places

    static Tensor Leaf(float[] data, params int[] shape) => new(data, shape) { RequiresGrad = true };

    [Fact]
    public void SoftmaxOfOneTwoThree()
    {
        // e^k / (e + e² + e³): e = 2.718282, e² = 7.389056, e³ = 20.085537, sum = 30.192875
        // A batch of one sample: axes count after the batch, so a plain vector (3) has no axis to normalize.
        var y = Softmax(new Tensor(new[] { 1f, 2f, 3f }, 1, 3)).ToArray();
        Assert.Equal(0.090031, y[0], Digits);
        Assert.Equal(0.244728, y[1], Digits);
        Assert.Equal(0.665241, y[2], Digits);
        var l = LogSoftmax(new Tensor(new[] { 1f, 2f, 3f }, 1, 3)).ToArray();
        Assert.Equal(-2.407606, l[0], Digits); // 1 - ln 30.192875 = 1 - 3.407606
        Assert.Equal(-0.407606, l[2], Digits);
    }

    [Fact]
    public void CrossEntropyOfATwoByThreeExample()
    {
        // Row 0: logits (1, 2, 3), label 2 → -ln softmax₂ = ln(30.192875) - 3 = 0.407606.
        // Row 1: logits (1, 1, 1), label 0 → -ln(1/3) = 1.098612.
        // Mean = 0.753109. dLogits = (p - onehot) / 2:
        //   row 0: (0.090031, 0.244728, 0.665241 - 1) / 2 = (0.045015, 0.122364, -0.167380)
        //   row 1: (1/3 - 1, 1/3, 1/3) / 2 = (-0.333333, 0.166667, 0.166667)
        var logits = Leaf(new[] { 1f, 2f, 3f, 1f, 1f, 1f }, 2, 3);
        var loss = SoftmaxCrossEntropy(logits, new Labels(new[] { 2, 0 }));
        Assert.Equal(0, loss.Rank);
        Assert.Equal(0.753109, loss.Item(), Digits);
        loss.Backward();
        double[] expected = { 0.045015, 0.122364, -0.167380, -0.333333, 0.166667, 0.166667 };
        for (int i = 0; i < 6; i++) Assert.Equal(expected[i], logits.Grad!.Data[i], Digits);
    }

    [Fact]
    public void MatMulTwoByThreeTimesThreeByTwo()
    {
        // [[1,2,3],[4,5,6]]·[[7,8],[9,10],[11,12]] = [[1·7+2·9+3·11, 1·8+2·10+3·12], [4·7+5·9+6·11, 4·8+5·10+6·12]]
        var c = MatMul(new Tensor(new[] { 1f, 2f, 3f, 4f, 5f, 6f }, 2, 3), new Tensor(new[] { 7f, 8f, 9f, 10f, 11f, 12f }, 3, 2));
        Assert.Equal(new[] { 2, 2 }, c.GetShape());
        Assert.Equal(new[] { 58f, 64f, 139f, 154f }, c.ToArray());
    }

    [Fact]
    public void BroadcastingOperatorsByHand()
    {
        var x = new Tensor(new[] { 1f, 2f, 3f, 4f, 5f, 6f }, 2, 3);
        Assert.Equal(new[] { 11f, 22f, 33f, 14f, 25f, 36f }, (x + new Tensor(new[] { 10f, 20f, 30f }, 3)).ToArray());
        Assert.Equal(new[] { 2f, 4f, 6f, 12f, 15f, 18f }, (x * new Tensor(new[] { 2f, 3f }, 2, 1)).ToArray());
        Assert.Equal(new[] { 0f, -1f, -2f, -3f, -4f, -5f }, (1f - x).ToArray());
        Assert.Equal(new[] { 0.5f, 1f, 1.5f, 2f, 2.5f, 3f }, (x / 2f).ToArray());
        Assert.Equal(new[] { -1f, -2f, -3f, -4f, -5f, -6f }, (-x).ToArray());
        // Axes count the per-sample dimensions: for (2, 3), axis 0 and axis -1 are both the 3.
        Assert.Equal(new[] { 2, 1 }, Sum(x, 0, keepDims: true).GetShape());
        Assert.Equal(new[] { 6f, 15f }, Sum(x, 0).ToArray());
        Assert.Equal(new[] { 2f, 5f }, Mean(x, -1).ToArray());
        Assert.Equal(new[] { 2, 1 }, Mean(x, 0, keepDims: true).GetShape());
        Assert.Equal(21f, Sum(x).Item());
        Assert.Equal(3.5f, Mean(x).Item());
    }

    [Fact]
    public void BackwardAccumulatesWhenCalledTwice()
    {
        var x = Leaf(new[] { 1f, -2f, 3f }, 3);
        var loss = Sum(Square(x)); // d/dx = 2x
        loss.Backward();
        Assert.Equal(new[] { 2f, -4f, 6f }, x.Grad!.ToArray());
        loss.Backward();
        Assert.Equal(new[] { 4f, -8f, 12f }, x.Grad!.ToArray());
        x.ZeroGrad();
        Assert.Equal(new[] { 0f, 0f, 0f }, x.Grad!.ToArray());
    }

    [Fact]
    public void ContributionsFromSeveralPathsAreSummed()
    {
        var x = Leaf(new[] { 2f }, Array.Empty<int>());
        var y = x * x + 3f * x; // dy/dx = 2x + 3 = 7
        y.Backward();
        Assert.Equal(7f, x.Grad!.Item());
    }

    [Fact]
    public void OnlyLeavesThatRequireGradGetAGradient()
    {
        var w = Leaf(new[] { 1f, 2f }, 2);
        var c = new Tensor(new[] { 3f, 4f }, 2);
        var h = w * c;
        Sum(h).Backward();
        Assert.Equal(new[] { 3f, 4f }, w.Grad!.ToArray());
        Assert.Null(c.Grad);
        Assert.Null(h.Grad); // intermediate gradients are not kept
        Assert.False(h.IsLeaf);
    }

    [Fact]
    public void NoGradRecordsNothing()
    {
        var x = Leaf(new[] { 1f, 2f }, 2);
        Tensor y;
        using (Tensor.NoGrad())
        {
            Assert.False(Tensor.IsGradEnabled);
            using (Tensor.NoGrad()) { }
            Assert.False(Tensor.IsGradEnabled); // scopes nest
            y = Sum(x * 2f);
        }
        Assert.True(Tensor.IsGradEnabled);
        Assert.False(y.RequiresGrad);
        Assert.True(y.IsLeaf);
        Assert.Throws<InvalidOperationException>(() => y.Backward());
        Assert.Null(x.Grad);

        var z = Sum(x * 2f); // recording is back on after the scope
        z.Backward();
        Assert.Equal(new[] { 2f, 2f }, x.Grad!.ToArray());
    }

    [Fact]
    public void BackwardNeedsAScalar()
    {
        var x = Leaf(new[] { 1f, 2f }, 2);
        var ex = Assert.Throws<InvalidOperationException>(() => (x * 2f).Backward());
        Assert.Contains("(2)", ex.Message);
        var one = Leaf(new[] { 1f }, 1, 1); // length 1 counts as a scalar
        (one * 5f).Backward();
        Assert.Equal(5f, one.Grad!.Item());
    }

    [Fact]
    public void ShapeErrorsNameTheOpAndBothShapes()
    {
        var ex = Assert.Throws<ArgumentException>(() => MatMul(new Tensor(2, 784), new Tensor(128, 10)));
        Assert.Equal("MatMul: shapes (2, 784) and (128, 10) do not chain: inner dimensions 784 and 128 differ.", ex.Message);

        ex = Assert.Throws<ArgumentException>(() => new Tensor(2, 3) + new Tensor(4));
        Assert.StartsWith("Add: shapes (2, 3) and (4) do not broadcast", ex.Message);
        ex = Assert.Throws<ArgumentException>(() => new Tensor(2, 3) * new Tensor(3, 3));
        Assert.StartsWith("Multiply: shapes (2, 3) and (3, 3) do not broadcast", ex.Message);
        ex = Assert.Throws<ArgumentException>(() => MeanSquaredError(new Tensor(2, 3), new Tensor(3, 2)));
        Assert.StartsWith("MeanSquaredError: shapes (2, 3) and (3, 2) differ", ex.Message);
        ex = Assert.Throws<ArgumentException>(() => SoftmaxCrossEntropy(new Tensor(2, 3), new Labels(new[] { 0 })));
        Assert.Contains("2 rows but there are 1 labels", ex.Message);
        ex = Assert.Throws<ArgumentException>(() => SoftmaxCrossEntropy(new Tensor(1, 3), new Labels(new[] { 3 })));
        Assert.Contains("label 3", ex.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => Softmax(new Tensor(2, 3), axis: 2));
        // The batch (first) dimension is never an axis, from either end.
        var axis = Assert.Throws<ArgumentOutOfRangeException>(() => Sum(new Tensor(2, 3), axis: 1));
        Assert.Contains("Sum: axis 1 is not a per-sample axis of (2, 3)", axis.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => Mean(new Tensor(2, 3), axis: -2));
        Assert.Throws<ArgumentOutOfRangeException>(() => Softmax(new Tensor(3)));
        ex = Assert.Throws<ArgumentException>(() => new Tensor(2, 3).Reshape(4, 2));
        Assert.Contains("(2, 3)", ex.Message);
    }

    [Fact]
    public void ReshapeIsAViewAndGradientsFlowThroughIt()
    {
        var x = Leaf(new[] { 1f, 2f, 3f, 4f, 5f, 6f }, 2, 3);
        var r = x.Reshape(3, -1);
        Assert.Equal(new[] { 3, 2 }, r.GetShape());
        r[2, 1] = 60f;
        Assert.Equal(60f, x[1, 2]); // shared storage
        var weights = new Tensor(new[] { 1f, 2f }, 2);
        Sum(r * weights).Backward(); // d/dr = (1, 2) per row → x.Grad flattened (1, 2, 1, 2, 1, 2)
        Assert.Equal(new[] { 1f, 2f, 1f, 2f, 1f, 2f }, x.Grad!.ToArray());
    }

    [Fact]
    public void DetachSharesStorageWithoutGradient()
    {
        var x = Leaf(new[] { 1f, 2f }, 2);
        var d = x.Detach();
        Assert.False(d.RequiresGrad);
        d[0] = 5f;
        Assert.Equal(5f, x[0]);
        Assert.False((d * 2f).RequiresGrad);
    }

    [Fact]
    public void ArgMaxIndexerItemAndToString()
    {
        var x = new Tensor(new[] { 1f, 9f, 3f, 7f, 2f, 8f }, 2, 3);
        Assert.Equal(1, x.ArgMax());
        Assert.Equal(new[] { 1, 2 }, x.ArgMax(-1)); // rows (1, 9, 3) and (7, 2, 8)
        Assert.Equal(new[] { 1, 0, 1 }, x.ArgMax(0));
        Assert.Equal(8f, x[1, 2]);
        Assert.Equal(8f, x[-1, -1]);
        x[0, 0] = 10f;
        Assert.Equal(0, x.ArgMax());
        Assert.Throws<IndexOutOfRangeException>(() => x[2, 0]);
        Assert.Throws<ArgumentException>(() => x[1]);
        Assert.Throws<InvalidOperationException>(() => x.Item());
        Assert.Equal("Tensor(2, 3) [10, 9, 3, 7, 2, 8]", x.ToString());
        Assert.StartsWith("Tensor(20) [0, 0, 0, 0, 0, 0, 0, 0, …", new Tensor(20).ToString());
    }

    [Fact]
    public void LinearValidatesInitializesDeterministicallyAndForwards()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new Linear(0, 3));
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => new Linear(3, -1));
        Assert.Contains("output features", ex.Message);

        var a = new Linear(6, 4);
        var b = new Linear(6, 4);
        Assert.Equal(a.Weight.ToArray(), b.Weight.ToArray());
        Assert.True(a.Weight.RequiresGrad && a.Bias!.RequiresGrad);
        Assert.Equal(new[] { 6, 4 }, a.Weight.GetShape());
        Assert.All(a.Bias.ToArray(), v => Assert.Equal(0f, v));
        float bound = MathF.Sqrt(6f / 6); // He-uniform bound for fan-in 6
        Assert.All(a.Weight.ToArray(), v => Assert.InRange(v, -bound, bound));
        Assert.NotEqual(a.Weight.ToArray(), new Linear(6, 4, true, seed: 7).Weight.ToArray());
        Assert.Null(new Linear(6, 4, bias: false).Bias);

        // Forward = x·W + b on a batched (2, 2, 6) input.
        a.Bias.Data.Fill(0.5f);
        var x = new Tensor(new float[24], 2, 2, 6);
        x.Data[6 + 1] = 1f; // sample (0, 1) is the unit vector e1
        var y = a.Forward(x);
        Assert.Equal(new[] { 2, 2, 4 }, y.GetShape());
        for (int j = 0; j < 4; j++)
        {
            Assert.Equal(0.5f, y[0, 0, j]);
            Assert.Equal(a.Weight[1, j] + 0.5f, y[0, 1, j], Digits);
        }
    }

    [Fact]
    public void LinearBindRejectsWrongShapes()
    {
        var store = new ParameterStore(new[]
        {
            new ParameterInfo("l.weight", new[] { 3, 4 }, 0, Init.HeUniform),
            new ParameterInfo("l.bias", new[] { 4 }, 16, Init.Zeros),
        }, seed: 1);
        var ex = Assert.Throws<ArgumentException>(() => new Linear(4, 3).Bind(store, "l"));
        Assert.Contains("'l.weight' has shape (3, 4) but the layer needs (4, 3)", ex.Message);
        Assert.Throws<System.Collections.Generic.KeyNotFoundException>(() => new Linear(3, 4).Bind(store, "m"));
        var ok = new Linear(3, 4);
        ok.Bind(store, "l");
        Assert.Same(store["l.bias"].Value, ok.Bias);
    }
}
