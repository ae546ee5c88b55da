using System;
using System.Collections.Generic;
using System.Linq;

namespace ModelGen.Runtime.Tests.Eager;

/// <summary>How the values of an input are drawn.</summary>
enum Draw
{
    /// <summary>U(-2, 2).</summary>
    Any,
    /// <summary>U(0.5, 3): for Log and denominators.</summary>
    Positive,
    /// <summary>±U(0.2, 2): for Relu (no kink within reach of the finite difference).</summary>
    AwayFromZero,
}

/// <summary>
/// One op under test: input shapes, the reference forward and backward in double, and the same op on the
/// eager <see cref="Tensor"/> path. The gradient checks and the eager-vs-reference tests both run over this table.
/// </summary>
sealed record OpCase(
    string Name,
    int[][] Shapes,
    Draw[] Draws,
    Func<double[][], double[]> Forward,
    Func<double[][], double[], double[]?[]> Backward,
    Func<Tensor[], Tensor> Eager)
{
    public double[][] MakeInputs(int seed)
    {
        var rng = new Random(seed);
        var inputs = new double[Shapes.Length][];
        for (int t = 0; t < Shapes.Length; t++)
        {
            inputs[t] = new double[Tensor.ShapeLength(Shapes[t])];
            for (int j = 0; j < inputs[t].Length; j++)
            {
                double u = rng.NextDouble();
                inputs[t][j] = Draws[t] switch
                {
                    Draw.Positive => 0.5 + 2.5 * u,
                    Draw.AwayFromZero => (rng.Next(2) == 0 ? -1 : 1) * (0.2 + 1.8 * u),
                    _ => 4 * u - 2,
                };
                // Values exactly representable in float, so the float path and the double reference see the same inputs.
                inputs[t][j] = (float)inputs[t][j];
            }
        }
        return inputs;
    }

    public override string ToString() => Name;
}

static class OpCases
{
    static readonly int[] Scalar = Array.Empty<int>();

    public static readonly IReadOnlyDictionary<string, OpCase> All = Build().ToDictionary(c => c.Name);

    public static IEnumerable<object[]> Names => All.Keys.Select(k => new object[] { k });

    static IEnumerable<OpCase> Build()
    {
        // ---- binary operators with numpy broadcasting
        foreach (var (a, b) in new[]
        {
            (new[] { 3, 5 }, new[] { 3, 5 }),
            (new[] { 3, 5 }, new[] { 5 }),      // (B, n) ∘ (n)
            (new[] { 3, 5 }, new[] { 3, 1 }),   // (B, n) ∘ (B, 1)
            (new[] { 3, 5 }, Scalar),           // (B, n) ∘ scalar tensor
            (new[] { 5 }, new[] { 3, 5 }),      // (n) ∘ (B, n)
            (new[] { 2, 1, 5 }, new[] { 3, 1 }) // both stretch: (2, 3, 5)
        })
        {
            string shapes = $"{Tensor.FormatShape(a)}{Tensor.FormatShape(b)}";
            yield return Binary("Add" + shapes, a, b, Draw.Any, (x, y) => x + y);
            yield return Binary("Subtract" + shapes, a, b, Draw.Any, (x, y) => x - y);
            yield return Binary("Multiply" + shapes, a, b, Draw.Any, (x, y) => x * y);
            yield return Binary("Divide" + shapes, a, b, Draw.Positive, (x, y) => x / y);
        }

        // ---- Tensor ∘ float and float ∘ Tensor
        yield return WithConstant("Tensor+float", 1.7, constantFirst: false, "Add", t => t + 1.7f);
        yield return WithConstant("float+Tensor", 1.7, constantFirst: true, "Add", t => 1.7f + t);
        yield return WithConstant("Tensor-float", 0.3, constantFirst: false, "Subtract", t => t - 0.3f);
        yield return WithConstant("float-Tensor", 1.3, constantFirst: true, "Subtract", t => 1.3f - t);
        yield return WithConstant("Tensor*float", -2.5, constantFirst: false, "Multiply", t => t * -2.5f);
        yield return WithConstant("float*Tensor", 0.75, constantFirst: true, "Multiply", t => 0.75f * t);
        yield return WithConstant("Tensor/float", 4, constantFirst: false, "Divide", t => t / 4f);
        yield return WithConstant("float/Tensor", 2.5, constantFirst: true, "Divide", t => 2.5f / t);

        // ---- unary
        int[] u = { 3, 5 };
        yield return Unary("Negate", u, Draw.Any, Reference.Negate<double>, (x, y, dy, dx) => Reference.NegateBackward<double>(dy, dx), t => -t);
        yield return Unary("Relu", u, Draw.AwayFromZero, Reference.Relu<double>, (x, y, dy, dx) => Reference.ReluBackward<double>(x, dy, dx), Ops.Relu);
        yield return Unary("Tanh", u, Draw.Any, Reference.Tanh<double>, (x, y, dy, dx) => Reference.TanhBackward<double>(y, dy, dx), Ops.Tanh);
        yield return Unary("Sigmoid", u, Draw.Any, Reference.Sigmoid<double>, (x, y, dy, dx) => Reference.SigmoidBackward<double>(y, dy, dx), Ops.Sigmoid);
        yield return Unary("Exp", u, Draw.Any, Reference.Exp<double>, (x, y, dy, dx) => Reference.ExpBackward<double>(y, dy, dx), Ops.Exp);
        yield return Unary("Log", u, Draw.Positive, Reference.Log<double>, (x, y, dy, dx) => Reference.LogBackward<double>(x, dy, dx), Ops.Log);
        yield return Unary("Square", u, Draw.Any, Reference.Square<double>, (x, y, dy, dx) => Reference.SquareBackward<double>(x, dy, dx), Ops.Square);

        // ---- matrix product, 2-D, batched left operand, vector left operand
        yield return MatMul(new[] { 3, 5 }, 7);
        yield return MatMul(new[] { 2, 3, 5 }, 7);
        yield return MatMul(new[] { 5 }, 3);

        // ---- softmax family on every per-sample axis (0 is the first dimension after the batch; negative from the end)
        foreach (var (shape, axis) in new[] { (new[] { 3, 5 }, -1), (new[] { 3, 5 }, 0), (new[] { 2, 3, 5 }, 0), (new[] { 2, 3, 5 }, 1), (new[] { 2, 3, 5 }, -2) })
        {
            yield return Axis("Softmax", shape, axis,
                (x, y, o, a, i) => Reference.Softmax<double>(x, y, o, a, i),
                (x, y, dy, dx, o, a, i) => Reference.SoftmaxBackward<double>(y, dy, dx, o, a, i),
                t => Ops.Softmax(t[0], axis), keepShape: true);
            yield return Axis("LogSoftmax", shape, axis,
                (x, y, o, a, i) => Reference.LogSoftmax<double>(x, y, o, a, i),
                (x, y, dy, dx, o, a, i) => Reference.LogSoftmaxBackward<double>(y, dy, dx, o, a, i),
                t => Ops.LogSoftmax(t[0], axis), keepShape: true);
            yield return Axis("SumAxis", shape, axis,
                (x, y, o, a, i) => Reference.SumAxis<double>(x, y, o, a, i),
                (x, y, dy, dx, o, a, i) => Reference.SumAxisBackward<double>(dy, dx, o, a, i),
                t => Ops.Sum(t[0], axis), keepShape: false);
            yield return Axis("MeanAxis", shape, axis,
                (x, y, o, a, i) => Reference.MeanAxis<double>(x, y, o, a, i),
                (x, y, dy, dx, o, a, i) => Reference.MeanAxisBackward<double>(dy, dx, o, a, i),
                t => Ops.Mean(t[0], axis, keepDims: true), keepShape: false);
        }

        // ---- full reductions and losses (scalar outputs)
        int[] r = { 3, 5 };
        yield return new OpCase("Sum", new[] { r }, new[] { Draw.Any },
            x => new[] { Reference.Sum<double>(x[0]) },
            (x, dy) => { var dx = new double[x[0].Length]; Reference.SumBackward(dy[0], dx.AsSpan()); return new[] { dx }; },
            t => Ops.Sum(t[0]));
        yield return new OpCase("Mean", new[] { r }, new[] { Draw.Any },
            x => new[] { Reference.Mean<double>(x[0]) },
            (x, dy) => { var dx = new double[x[0].Length]; Reference.MeanBackward(dy[0], dx.AsSpan()); return new[] { dx }; },
            t => Ops.Mean(t[0]));
        yield return new OpCase("MeanSquaredError", new[] { r, r }, new[] { Draw.Any, Draw.Any },
            x => new[] { Reference.MeanSquaredError<double>(x[0], x[1]) },
            (x, dy) =>
            {
                var dp = new double[x[0].Length];
                var dt = new double[x[1].Length];
                Reference.MeanSquaredErrorBackward<double>(x[0], x[1], dy[0], dp, dt);
                return new[] { dp, dt };
            },
            t => Ops.MeanSquaredError(t[0], t[1]));
        int[] labels = { 2, 0, 6, 3, 6 };
        int rows = 5, classes = 7;
        yield return new OpCase("SoftmaxCrossEntropy", new[] { new[] { rows, classes } }, new[] { Draw.Any },
            x => new[] { Reference.SoftmaxCrossEntropy<double>(x[0], labels, rows, classes, new double[rows * classes]) },
            (x, dy) =>
            {
                var p = new double[rows * classes];
                Reference.SoftmaxCrossEntropy<double>(x[0], labels, rows, classes, p);
                var dx = new double[rows * classes];
                Reference.SoftmaxCrossEntropyBackward<double>(p, labels, rows, classes, dy[0], dx);
                return new[] { dx };
            },
            t => Ops.SoftmaxCrossEntropy(t[0], new Labels(labels)));

        // ---- Reshape (a view; backward is the identity on the flat data)
        yield return new OpCase("Reshape", new[] { new[] { 3, 5 } }, new[] { Draw.Any },
            x => (double[])x[0].Clone(), (x, dy) => new[] { (double[])dy.Clone() }, t => t[0].Reshape(5, -1));
    }

    delegate void UnaryForward(ReadOnlySpan<double> x, Span<double> y);
    delegate void UnaryBackward(double[] x, double[] y, double[] dy, double[] dx);
    delegate void AxisForward(double[] x, double[] y, int outer, int axis, int inner);
    delegate void AxisBackward(double[] x, double[] y, double[] dy, double[] dx, int outer, int axis, int inner);

    static OpCase Binary(string name, int[] a, int[] b, Draw bDraw, Func<Tensor, Tensor, Tensor> eager)
    {
        string op = name[..name.IndexOf('(')];
        var y = Reference.BroadcastShapes(op, a, b);
        return new OpCase(name, new[] { a, b }, new[] { Draw.Any, bDraw },
            x => BinaryForward(op, x[0], a, x[1], b, y),
            (x, dy) => BinaryBackward(op, x[0], a, x[1], b, dy, y),
            t => eager(t[0], t[1]));
    }

    static OpCase WithConstant(string name, double constant, bool constantFirst, string op, Func<Tensor, Tensor> eager)
    {
        int[] shape = { 3, 5 };
        double[] c = { constant };
        var draw = op == "Divide" && constantFirst ? Draw.Positive : Draw.Any;
        return new OpCase(name, new[] { shape }, new[] { draw },
            x => constantFirst ? BinaryForward(op, c, Scalar, x[0], shape, shape) : BinaryForward(op, x[0], shape, c, Scalar, shape),
            (x, dy) => constantFirst
                ? new[] { BinaryBackward(op, c, Scalar, x[0], shape, dy, shape)[1] }
                : new[] { BinaryBackward(op, x[0], shape, c, Scalar, dy, shape)[0] },
            t => eager(t[0]));
    }

    static double[] BinaryForward(string op, double[] a, int[] aShape, double[] b, int[] bShape, int[] yShape)
    {
        var y = new double[Tensor.ShapeLength(yShape)];
        switch (op)
        {
            case "Add": Reference.Add<double>(a, aShape, b, bShape, y, yShape); break;
            case "Subtract": Reference.Subtract<double>(a, aShape, b, bShape, y, yShape); break;
            case "Multiply": Reference.Multiply<double>(a, aShape, b, bShape, y, yShape); break;
            case "Divide": Reference.Divide<double>(a, aShape, b, bShape, y, yShape); break;
            default: throw new ArgumentException(op);
        }
        return y;
    }

    static double[][] BinaryBackward(string op, double[] a, int[] aShape, double[] b, int[] bShape, double[] dy, int[] yShape)
    {
        var da = new double[a.Length];
        var db = new double[b.Length];
        switch (op)
        {
            case "Add": Reference.AddBackward<double>(dy, yShape, da, aShape, db, bShape); break;
            case "Subtract": Reference.SubtractBackward<double>(dy, yShape, da, aShape, db, bShape); break;
            case "Multiply": Reference.MultiplyBackward<double>(a, aShape, b, bShape, dy, yShape, da, db); break;
            case "Divide": Reference.DivideBackward<double>(a, aShape, b, bShape, dy, yShape, da, db); break;
            default: throw new ArgumentException(op);
        }
        return new[] { da, db };
    }

    static OpCase Unary(string name, int[] shape, Draw draw, UnaryForward forward, UnaryBackward backward, Func<Tensor, Tensor> eager) =>
        new(name, new[] { shape }, new[] { draw },
            x =>
            {
                var y = new double[x[0].Length];
                forward(x[0], y);
                return y;
            },
            (x, dy) =>
            {
                var y = new double[x[0].Length];
                forward(x[0], y);
                var dx = new double[x[0].Length];
                backward(x[0], y, dy, dx);
                return new[] { dx };
            },
            t => eager(t[0]));

    static OpCase MatMul(int[] aShape, int n)
    {
        int k = aShape[^1], m = Tensor.ShapeLength(aShape) / k;
        int[] bShape = { k, n };
        return new OpCase($"MatMul{Tensor.FormatShape(aShape)}{Tensor.FormatShape(bShape)}", new[] { aShape, bShape }, new[] { Draw.Any, Draw.Any },
            x =>
            {
                var c = new double[m * n];
                Reference.MatMul<double>(x[0], x[1], c, m, k, n);
                return c;
            },
            (x, dc) =>
            {
                var da = new double[m * k];
                var db = new double[k * n];
                Reference.MatMulBackward<double>(x[0], x[1], dc, da, db, m, k, n);
                return new[] { da, db };
            },
            t => Ops.MatMul(t[0], t[1]));
    }

    static OpCase Axis(string name, int[] shape, int axis, AxisForward forward, AxisBackward backward, Func<Tensor[], Tensor> eager, bool keepShape)
    {
        // The reference kernels take an axis of the full shape; the ops count per-sample axes (the batch is never one).
        var (outer, size, inner) = Reference.SplitAtAxis(shape, axis < 0 ? axis : axis + 1);
        int outLength = keepShape ? outer * size * inner : outer * inner;
        return new OpCase($"{name}{Tensor.FormatShape(shape)}axis{axis}", new[] { shape }, new[] { Draw.Any },
            x =>
            {
                var y = new double[outLength];
                forward(x[0], y, outer, size, inner);
                return y;
            },
            (x, dy) =>
            {
                var y = new double[outLength];
                forward(x[0], y, outer, size, inner);
                var dx = new double[x[0].Length];
                backward(x[0], y, dy, dx, outer, size, inner);
                return new[] { dx };
            },
            eager);
    }
}
