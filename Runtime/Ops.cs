using System;

namespace ModelGen;

/// <summary>
/// The operations a <c>[Forward]</c> or <c>[Loss]</c> method may call. Called directly they run eagerly
/// (reference kernels plus a tape); inside a model the generator compiles them.
/// </summary>
/// <remarks>
/// Axes (Softmax, LogSoftmax, Sum, Mean, Slice, Concat, Transpose, Permute) count the per-sample dimensions, as
/// [Shape] declares them: axis 0 is the first dimension after the batch (a tensor's first dimension is its batch), and
/// a negative axis counts from the end. An axis out of range throws <see cref="ArgumentOutOfRangeException"/>.
/// </remarks>
public static partial class Ops
{
    /// <summary>
    /// Matrix product of the last two dimensions: (…, m, k)·(k, n) → (…, m, n); a 1-D left operand (k) is a row
    /// vector and gives (n). The right operand is 2-D.
    /// </summary>
    public static Tensor MatMul(Tensor a, Tensor b)
    {
        ArgumentNullException.ThrowIfNull(a);
        ArgumentNullException.ThrowIfNull(b);
        if (a.Rank < 1 || b.Rank != 2)
            throw new ArgumentException(
                $"MatMul: shapes {Tensor.FormatShape(a.Shape)} and {Tensor.FormatShape(b.Shape)} do not chain: the left operand needs rank 1 or more and the right operand rank 2.");
        int k = a.Dim(-1);
        if (k != b.Dim(0))
            throw new ArgumentException(
                $"MatMul: shapes {Tensor.FormatShape(a.Shape)} and {Tensor.FormatShape(b.Shape)} do not chain: inner dimensions {k} and {b.Dim(0)} differ.");
        int n = b.Dim(1), m = a.Length / Math.Max(k, 1);
        if (k == 0) m = Tensor.ShapeLength(a.Shape[..^1]);
        var shape = a.GetShape();
        shape[^1] = n;
        var y = new Tensor(shape);
        Reference.MatMul<float>(a.Data, b.Data, y.Data, m, k, n);
        return Tensor.Record(y, "MatMul", new[] { a, b },
            (dy, dx) => Reference.MatMulBackward<float>(a.Data, b.Data, dy, dx[0], dx[1], m, k, n));
    }

    /// <summary>max(x, 0), elementwise.</summary>
    public static Tensor Relu(Tensor x)
    {
        var y = Unary(x, static (s, d) => Reference.Relu<float>(s, d));
        return Tensor.Record(y, "Relu", new[] { x }, (dy, dx) => Reference.ReluBackward<float>(x.Data, dy, dx[0]));
    }

    /// <summary>tanh(x), elementwise.</summary>
    public static Tensor Tanh(Tensor x)
    {
        var y = Unary(x, static (s, d) => Reference.Tanh<float>(s, d));
        return Tensor.Record(y, "Tanh", new[] { x }, (dy, dx) => Reference.TanhBackward<float>(y.Data, dy, dx[0]));
    }

    /// <summary>1 / (1 + e^-x), elementwise.</summary>
    public static Tensor Sigmoid(Tensor x)
    {
        var y = Unary(x, static (s, d) => Reference.Sigmoid<float>(s, d));
        return Tensor.Record(y, "Sigmoid", new[] { x }, (dy, dx) => Reference.SigmoidBackward<float>(y.Data, dy, dx[0]));
    }

    /// <summary>e^x, elementwise.</summary>
    public static Tensor Exp(Tensor x)
    {
        var y = Unary(x, static (s, d) => Reference.Exp<float>(s, d));
        return Tensor.Record(y, "Exp", new[] { x }, (dy, dx) => Reference.ExpBackward<float>(y.Data, dy, dx[0]));
    }

    /// <summary>Natural logarithm, elementwise.</summary>
    public static Tensor Log(Tensor x)
    {
        var y = Unary(x, static (s, d) => Reference.Log<float>(s, d));
        return Tensor.Record(y, "Log", new[] { x }, (dy, dx) => Reference.LogBackward<float>(x.Data, dy, dx[0]));
    }

    /// <summary>x², elementwise.</summary>
    public static Tensor Square(Tensor x)
    {
        var y = Unary(x, static (s, d) => Reference.Square<float>(s, d));
        return Tensor.Record(y, "Square", new[] { x }, (dy, dx) => Reference.SquareBackward<float>(x.Data, dy, dx[0]));
    }

    /// <summary>Softmax along the per-sample <paramref name="axis"/> (default the last; see <see cref="Ops"/> on axes).</summary>
    public static Tensor Softmax(Tensor x, int axis = -1)
    {
        ArgumentNullException.ThrowIfNull(x);
        var (outer, size, inner) = SplitAtAxis("Softmax", x, axis);
        var y = new Tensor(x.GetShape());
        Reference.Softmax<float>(x.Data, y.Data, outer, size, inner);
        return Tensor.Record(y, "Softmax", new[] { x },
            (dy, dx) => Reference.SoftmaxBackward<float>(y.Data, dy, dx[0], outer, size, inner));
    }

    /// <summary>Log-softmax along the per-sample <paramref name="axis"/> (default the last).</summary>
    public static Tensor LogSoftmax(Tensor x, int axis = -1)
    {
        ArgumentNullException.ThrowIfNull(x);
        var (outer, size, inner) = SplitAtAxis("LogSoftmax", x, axis);
        var y = new Tensor(x.GetShape());
        Reference.LogSoftmax<float>(x.Data, y.Data, outer, size, inner);
        return Tensor.Record(y, "LogSoftmax", new[] { x },
            (dy, dx) => Reference.LogSoftmaxBackward<float>(y.Data, dy, dx[0], outer, size, inner));
    }

    /// <summary>Mean over the batch of the cross-entropy between softmax(logits) and the labels: a scalar.</summary>
    public static Tensor SoftmaxCrossEntropy(Tensor logits, Labels labels)
    {
        ArgumentNullException.ThrowIfNull(logits);
        ArgumentNullException.ThrowIfNull(labels);
        if (logits.Rank != 2)
            throw new ArgumentException($"SoftmaxCrossEntropy: logits must be (batch, classes), got shape {Tensor.FormatShape(logits.Shape)}.", nameof(logits));
        int rows = logits.Dim(0), classes = logits.Dim(1);
        if (labels.Count != rows)
            throw new ArgumentException($"SoftmaxCrossEntropy: logits of shape {Tensor.FormatShape(logits.Shape)} have {rows} rows but there are {labels.Count} labels.", nameof(labels));
        var probabilities = new float[logits.Length];
        int[] labelValues = labels.Values.ToArray();
        float loss = Reference.SoftmaxCrossEntropy<float>(logits.Data, labelValues, rows, classes, probabilities);
        var y = new Tensor(new[] { loss }, Array.Empty<int>());
        return Tensor.Record(y, "SoftmaxCrossEntropy", new[] { logits },
            (dy, dx) => Reference.SoftmaxCrossEntropyBackward<float>(probabilities, labelValues, rows, classes, dy[0], dx[0]));
    }

    /// <summary>Mean over all elements of (prediction - target)²: a scalar. The shapes must be equal.</summary>
    public static Tensor MeanSquaredError(Tensor prediction, Tensor target)
    {
        ArgumentNullException.ThrowIfNull(prediction);
        ArgumentNullException.ThrowIfNull(target);
        if (!prediction.Shape.SequenceEqual(target.Shape))
            throw new ArgumentException(
                $"MeanSquaredError: shapes {Tensor.FormatShape(prediction.Shape)} and {Tensor.FormatShape(target.Shape)} differ: prediction and target must have the same shape.");
        float loss = Reference.MeanSquaredError<float>(prediction.Data, target.Data);
        var y = new Tensor(new[] { loss }, Array.Empty<int>());
        return Tensor.Record(y, "MeanSquaredError", new[] { prediction, target },
            (dy, dx) => Reference.MeanSquaredErrorBackward<float>(prediction.Data, target.Data, dy[0], dx[0], dx[1]));
    }

    /// <summary>Sum of all elements: a scalar.</summary>
    public static Tensor Sum(Tensor x)
    {
        ArgumentNullException.ThrowIfNull(x);
        var y = new Tensor(new[] { Reference.Sum<float>(x.Data) }, Array.Empty<int>());
        return Tensor.Record(y, "Sum", new[] { x }, static (dy, dx) => Reference.SumBackward(dy[0], dx[0]));
    }

    /// <summary>Sum along the per-sample <paramref name="axis"/>; the axis is kept with size 1 when <paramref name="keepDims"/>.</summary>
    public static Tensor Sum(Tensor x, int axis, bool keepDims = false)
    {
        ArgumentNullException.ThrowIfNull(x);
        var (outer, size, inner) = SplitAtAxis("Sum", x, axis);
        var y = new Tensor(ReducedShape(x, PerSampleAxis("Sum", x, axis) + 1, keepDims));
        Reference.SumAxis<float>(x.Data, y.Data, outer, size, inner);
        return Tensor.Record(y, "Sum", new[] { x }, (dy, dx) => Reference.SumAxisBackward<float>(dy, dx[0], outer, size, inner));
    }

    /// <summary>Mean of all elements: a scalar.</summary>
    public static Tensor Mean(Tensor x)
    {
        ArgumentNullException.ThrowIfNull(x);
        var y = new Tensor(new[] { Reference.Mean<float>(x.Data) }, Array.Empty<int>());
        return Tensor.Record(y, "Mean", new[] { x }, static (dy, dx) => Reference.MeanBackward(dy[0], dx[0]));
    }

    /// <summary>Mean along the per-sample <paramref name="axis"/>; the axis is kept with size 1 when <paramref name="keepDims"/>.</summary>
    public static Tensor Mean(Tensor x, int axis, bool keepDims = false)
    {
        ArgumentNullException.ThrowIfNull(x);
        var (outer, size, inner) = SplitAtAxis("Mean", x, axis);
        var y = new Tensor(ReducedShape(x, PerSampleAxis("Mean", x, axis) + 1, keepDims));
        Reference.MeanAxis<float>(x.Data, y.Data, outer, size, inner);
        return Tensor.Record(y, "Mean", new[] { x }, (dy, dx) => Reference.MeanAxisBackward<float>(dy, dx[0], outer, size, inner));
    }

    /// <summary>Makes <paramref name="count"/> modules with <paramref name="factory"/> (for arrays of blocks).</summary>
    public static T[] Repeat<T>(int count, Func<T> factory)
    {
        if (count < 0) throw new ArgumentOutOfRangeException(nameof(count), "The count cannot be negative.");
        var items = new T[count];
        for (int i = 0; i < count; i++) items[i] = factory();
        return items;
    }

    // ---------------------------------------------------------------- helpers (also used by the Tensor operators)

    internal delegate void UnaryKernel(ReadOnlySpan<float> x, Span<float> y);

    static Tensor Unary(Tensor x, UnaryKernel kernel)
    {
        ArgumentNullException.ThrowIfNull(x);
        var y = new Tensor(x.GetShape());
        kernel(x.Data, y.Data);
        return y;
    }

    /// <summary>The (outer, axis, inner) view of <paramref name="x"/> around its per-sample <paramref name="axis"/>.</summary>
    static (int Outer, int Axis, int Inner) SplitAtAxis(string op, Tensor x, int axis) =>
        Reference.SplitAtAxis(x.Shape, PerSampleAxis(op, x, axis) + 1);

    /// <summary>
    /// A per-sample axis as an index of the per-sample dimensions. Every op counts axes this way, as [Shape] declares a
    /// sample: 0 is the first dimension after the batch (the first dimension of any tensor), a negative axis counts from
    /// the end, and the batch itself is never an axis. The compiled model counts the same (the generator's OpCall.Axis).
    /// </summary>
    static int PerSampleAxis(string op, Tensor x, int axis)
    {
        int rank = x.Rank - 1, a = axis < 0 ? axis + rank : axis;
        if (a < 0 || a >= rank)
            throw new ArgumentOutOfRangeException(nameof(axis), $"{op}: axis {axis} is not a per-sample axis of {Tensor.FormatShape(x.Shape)}: axes count the dimensions after the batch (first) one, "
                + (rank > 0 ? $"from 0 to {rank - 1}, or from -{rank} to -1 from the end." : "and it has none."));
        return a;
    }

    /// <summary>The shape of a reduction along the full-shape axis <paramref name="a"/>.</summary>
    static int[] ReducedShape(Tensor x, int a, bool keepDims)
    {
        var shape = x.GetShape();
        if (keepDims)
        {
            shape[a] = 1;
            return shape;
        }
        var reduced = new int[x.Rank - 1];
        for (int i = 0, j = 0; i < x.Rank; i++)
            if (i != a) reduced[j++] = shape[i];
        return reduced;
    }

    internal enum BinaryOp { Add, Subtract, Multiply, Divide }

    internal static Tensor Binary(BinaryOp op, Tensor a, Tensor b)
    {
        ArgumentNullException.ThrowIfNull(a);
        ArgumentNullException.ThrowIfNull(b);
        string name = op.ToString();
        int[] aShape = a.GetShape(), bShape = b.GetShape();
        int[] yShape = Reference.BroadcastShapes(name, aShape, bShape);
        var y = new Tensor(yShape);
        switch (op)
        {
            case BinaryOp.Add: Reference.Add<float>(a.Data, aShape, b.Data, bShape, y.Data, yShape); break;
            case BinaryOp.Subtract: Reference.Subtract<float>(a.Data, aShape, b.Data, bShape, y.Data, yShape); break;
            case BinaryOp.Multiply: Reference.Multiply<float>(a.Data, aShape, b.Data, bShape, y.Data, yShape); break;
            default: Reference.Divide<float>(a.Data, aShape, b.Data, bShape, y.Data, yShape); break;
        }
        return Tensor.Record(y, name, new[] { a, b }, (dy, dx) =>
        {
            switch (op)
            {
                case BinaryOp.Add: Reference.AddBackward<float>(dy, yShape, dx[0], aShape, dx[1], bShape); break;
                case BinaryOp.Subtract: Reference.SubtractBackward<float>(dy, yShape, dx[0], aShape, dx[1], bShape); break;
                case BinaryOp.Multiply: Reference.MultiplyBackward<float>(a.Data, aShape, b.Data, bShape, dy, yShape, dx[0], dx[1]); break;
                default: Reference.DivideBackward<float>(a.Data, aShape, b.Data, bShape, dy, yShape, dx[0], dx[1]); break;
            }
        });
    }

    internal static Tensor Negate(Tensor x)
    {
        var y = Unary(x, static (s, d) => Reference.Negate<float>(s, d));
        return Tensor.Record(y, "Negate", new[] { x }, static (dy, dx) => Reference.NegateBackward<float>(dy, dx[0]));
    }
}
