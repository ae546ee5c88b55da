using System;
using System.Numerics;

namespace ModelGen;

/// <summary>
/// The reference kernels: a forward and a backward (vector-Jacobian product) method per op, generic over the
/// element type so that tests can run them in <see cref="double"/> for central-difference gradient checks, while
/// the eager <see cref="Tensor"/> path runs them in <see cref="float"/>. They are deliberately plain loops over
/// row-major spans: this is the oracle every compiled kernel is tested against.
/// </summary>
/// <remarks>
/// Conventions. Backward methods overwrite their outputs (they never accumulate). A gradient output passed as an
/// empty span is skipped (the caller does not need that gradient). Around an axis a tensor is viewed as
/// (outer, axis, inner): element (o, a, i) sits at <c>(o * axis + a) * inner + i</c>.
/// </remarks>
public static partial class Reference
{
    // ---------------------------------------------------------------- shapes

    /// <summary>
    /// The numpy broadcast of two shapes (aligned at the last dimension; a dimension of 1 stretches).
    /// Throws <see cref="ArgumentException"/> naming <paramref name="op"/> and both shapes when they do not broadcast.
    /// </summary>
    public static int[] BroadcastShapes(string op, ReadOnlySpan<int> a, ReadOnlySpan<int> b)
    {
        int rank = Math.Max(a.Length, b.Length);
        var y = new int[rank];
        for (int i = 1; i <= rank; i++)
        {
            int da = i <= a.Length ? a[a.Length - i] : 1;
            int db = i <= b.Length ? b[b.Length - i] : 1;
            if (da != db && da != 1 && db != 1)
                throw new ArgumentException(
                    $"{op}: shapes {Tensor.FormatShape(a)} and {Tensor.FormatShape(b)} do not broadcast: dimensions {da} and {db} differ and neither is 1.");
            y[rank - i] = da == 1 ? db : da;
        }
        return y;
    }

    /// <summary>Sizes of the (outer, axis, inner) view of <paramref name="shape"/> around <paramref name="axis"/> (negative counts from the end).</summary>
    public static (int Outer, int Axis, int Inner) SplitAtAxis(ReadOnlySpan<int> shape, int axis)
    {
        int a = Tensor.NormalizeAxis(axis, shape.Length);
        int outer = 1, inner = 1;
        for (int i = 0; i < a; i++) outer *= shape[i];
        for (int i = a + 1; i < shape.Length; i++) inner *= shape[i];
        return (outer, shape[a], inner);
    }

    /// <summary>
    /// The flat index in a tensor of shape <paramref name="xShape"/> of the element that broadcasting carries to
    /// flat index <paramref name="index"/> of shape <paramref name="yShape"/>.
    /// </summary>
    public static int BroadcastSource(int index, ReadOnlySpan<int> yShape, ReadOnlySpan<int> xShape)
    {
        int source = 0, stride = 1, rest = index;
        for (int i = 1; i <= yShape.Length; i++)
        {
            int yd = yShape[yShape.Length - i];
            int coordinate = rest % yd;
            rest /= yd;
            if (i <= xShape.Length)
            {
                int xd = xShape[xShape.Length - i];
                if (xd != 1) source += coordinate * stride;
                stride *= xd;
            }
        }
        return source;
    }

    /// <summary>y = x broadcast to <paramref name="yShape"/>.</summary>
    public static void BroadcastTo<T>(ReadOnlySpan<T> x, ReadOnlySpan<int> xShape, Span<T> y, ReadOnlySpan<int> yShape)
        where T : IFloatingPointIeee754<T>
    {
        for (int i = 0; i < y.Length; i++) y[i] = x[BroadcastSource(i, yShape, xShape)];
    }

    /// <summary>x = the sum of <paramref name="y"/> over the dimensions broadcasting stretched (the VJP of <see cref="BroadcastTo{T}"/>).</summary>
    public static void ReduceTo<T>(ReadOnlySpan<T> y, ReadOnlySpan<int> yShape, Span<T> x, ReadOnlySpan<int> xShape)
        where T : IFloatingPointIeee754<T>
    {
        x.Clear();
        for (int i = 0; i < y.Length; i++) x[BroadcastSource(i, yShape, xShape)] += y[i];
    }

    // ---------------------------------------------------------------- elementwise binary (numpy broadcasting)

    /// <summary>y = a + b with broadcasting.</summary>
    public static void Add<T>(ReadOnlySpan<T> a, ReadOnlySpan<int> aShape, ReadOnlySpan<T> b, ReadOnlySpan<int> bShape, Span<T> y, ReadOnlySpan<int> yShape)
        where T : IFloatingPointIeee754<T>
    {
        for (int i = 0; i < y.Length; i++) y[i] = a[BroadcastSource(i, yShape, aShape)] + b[BroadcastSource(i, yShape, bShape)];
    }

    /// <summary>da = reduce(dy), db = reduce(dy).</summary>
    public static void AddBackward<T>(ReadOnlySpan<T> dy, ReadOnlySpan<int> yShape, Span<T> da, ReadOnlySpan<int> aShape, Span<T> db, ReadOnlySpan<int> bShape)
        where T : IFloatingPointIeee754<T>
    {
        if (!da.IsEmpty) ReduceTo(dy, yShape, da, aShape);
        if (!db.IsEmpty) ReduceTo(dy, yShape, db, bShape);
    }

    /// <summary>y = a - b with broadcasting.</summary>
    public static void Subtract<T>(ReadOnlySpan<T> a, ReadOnlySpan<int> aShape, ReadOnlySpan<T> b, ReadOnlySpan<int> bShape, Span<T> y, ReadOnlySpan<int> yShape)
        where T : IFloatingPointIeee754<T>
    {
        for (int i = 0; i < y.Length; i++) y[i] = a[BroadcastSource(i, yShape, aShape)] - b[BroadcastSource(i, yShape, bShape)];
    }

    /// <summary>da = reduce(dy), db = reduce(-dy).</summary>
    public static void SubtractBackward<T>(ReadOnlySpan<T> dy, ReadOnlySpan<int> yShape, Span<T> da, ReadOnlySpan<int> aShape, Span<T> db, ReadOnlySpan<int> bShape)
        where T : IFloatingPointIeee754<T>
    {
        if (!da.IsEmpty) ReduceTo(dy, yShape, da, aShape);
        if (!db.IsEmpty)
        {
            var negative = new T[dy.Length];
            for (int i = 0; i < dy.Length; i++) negative[i] = -dy[i];
            ReduceTo<T>(negative, yShape, db, bShape);
        }
    }

    /// <summary>y = a * b with broadcasting.</summary>
    public static void Multiply<T>(ReadOnlySpan<T> a, ReadOnlySpan<int> aShape, ReadOnlySpan<T> b, ReadOnlySpan<int> bShape, Span<T> y, ReadOnlySpan<int> yShape)
        where T : IFloatingPointIeee754<T>
    {
        for (int i = 0; i < y.Length; i++) y[i] = a[BroadcastSource(i, yShape, aShape)] * b[BroadcastSource(i, yShape, bShape)];
    }

    /// <summary>da = reduce(dy * b), db = reduce(dy * a).</summary>
    public static void MultiplyBackward<T>(ReadOnlySpan<T> a, ReadOnlySpan<int> aShape, ReadOnlySpan<T> b, ReadOnlySpan<int> bShape,
        ReadOnlySpan<T> dy, ReadOnlySpan<int> yShape, Span<T> da, Span<T> db)
        where T : IFloatingPointIeee754<T>
    {
        var full = new T[dy.Length];
        if (!da.IsEmpty)
        {
            for (int i = 0; i < dy.Length; i++) full[i] = dy[i] * b[BroadcastSource(i, yShape, bShape)];
            ReduceTo<T>(full, yShape, da, aShape);
        }
        if (!db.IsEmpty)
        {
            for (int i = 0; i < dy.Length; i++) full[i] = dy[i] * a[BroadcastSource(i, yShape, aShape)];
            ReduceTo<T>(full, yShape, db, bShape);
        }
    }

    /// <summary>y = a / b with broadcasting.</summary>
    public static void Divide<T>(ReadOnlySpan<T> a, ReadOnlySpan<int> aShape, ReadOnlySpan<T> b, ReadOnlySpan<int> bShape, Span<T> y, ReadOnlySpan<int> yShape)
        where T : IFloatingPointIeee754<T>
    {
        for (int i = 0; i < y.Length; i++) y[i] = a[BroadcastSource(i, yShape, aShape)] / b[BroadcastSource(i, yShape, bShape)];
    }

    /// <summary>da = reduce(dy / b), db = reduce(-dy * a / b²).</summary>
    public static void DivideBackward<T>(ReadOnlySpan<T> a, ReadOnlySpan<int> aShape, ReadOnlySpan<T> b, ReadOnlySpan<int> bShape,
        ReadOnlySpan<T> dy, ReadOnlySpan<int> yShape, Span<T> da, Span<T> db)
        where T : IFloatingPointIeee754<T>
    {
        var full = new T[dy.Length];
        if (!da.IsEmpty)
        {
            for (int i = 0; i < dy.Length; i++) full[i] = dy[i] / b[BroadcastSource(i, yShape, bShape)];
            ReduceTo<T>(full, yShape, da, aShape);
        }
        if (!db.IsEmpty)
        {
            for (int i = 0; i < dy.Length; i++)
            {
                T bi = b[BroadcastSource(i, yShape, bShape)];
                full[i] = -dy[i] * a[BroadcastSource(i, yShape, aShape)] / (bi * bi);
            }
            ReduceTo<T>(full, yShape, db, bShape);
        }
    }

    // ---------------------------------------------------------------- elementwise unary

    /// <summary>y = -x.</summary>
    public static void Negate<T>(ReadOnlySpan<T> x, Span<T> y) where T : IFloatingPointIeee754<T>
    {
        for (int i = 0; i < x.Length; i++) y[i] = -x[i];
    }

    /// <summary>dx = -dy.</summary>
    public static void NegateBackward<T>(ReadOnlySpan<T> dy, Span<T> dx) where T : IFloatingPointIeee754<T>
    {
        for (int i = 0; i < dy.Length; i++) dx[i] = -dy[i];
    }

    /// <summary>y = max(x, 0).</summary>
    public static void Relu<T>(ReadOnlySpan<T> x, Span<T> y) where T : IFloatingPointIeee754<T>
    {
        for (int i = 0; i < x.Length; i++) y[i] = x[i] > T.Zero ? x[i] : T.Zero;
    }

    /// <summary>dx = dy where x &gt; 0, else 0.</summary>
    public static void ReluBackward<T>(ReadOnlySpan<T> x, ReadOnlySpan<T> dy, Span<T> dx) where T : IFloatingPointIeee754<T>
    {
        for (int i = 0; i < x.Length; i++) dx[i] = x[i] > T.Zero ? dy[i] : T.Zero;
    }

    /// <summary>y = tanh(x).</summary>
    public static void Tanh<T>(ReadOnlySpan<T> x, Span<T> y) where T : IFloatingPointIeee754<T>
    {
        for (int i = 0; i < x.Length; i++) y[i] = T.Tanh(x[i]);
    }

    /// <summary>dx = dy * (1 - y²), from the output y = tanh(x).</summary>
    public static void TanhBackward<T>(ReadOnlySpan<T> y, ReadOnlySpan<T> dy, Span<T> dx) where T : IFloatingPointIeee754<T>
    {
        for (int i = 0; i < y.Length; i++) dx[i] = dy[i] * (T.One - y[i] * y[i]);
    }

    /// <summary>y = 1 / (1 + e^-x), computed without overflow for large |x|.</summary>
    public static void Sigmoid<T>(ReadOnlySpan<T> x, Span<T> y) where T : IFloatingPointIeee754<T>
    {
        for (int i = 0; i < x.Length; i++)
        {
            if (x[i] >= T.Zero) y[i] = T.One / (T.One + T.Exp(-x[i]));
            else
            {
                T e = T.Exp(x[i]);
                y[i] = e / (T.One + e);
            }
        }
    }

    /// <summary>dx = dy * y * (1 - y), from the output y = sigmoid(x).</summary>
    public static void SigmoidBackward<T>(ReadOnlySpan<T> y, ReadOnlySpan<T> dy, Span<T> dx) where T : IFloatingPointIeee754<T>
    {
        for (int i = 0; i < y.Length; i++) dx[i] = dy[i] * y[i] * (T.One - y[i]);
    }

    /// <summary>y = e^x.</summary>
    public static void Exp<T>(ReadOnlySpan<T> x, Span<T> y) where T : IFloatingPointIeee754<T>
    {
        for (int i = 0; i < x.Length; i++) y[i] = T.Exp(x[i]);
    }

    /// <summary>dx = dy * y, from the output y = e^x.</summary>
    public static void ExpBackward<T>(ReadOnlySpan<T> y, ReadOnlySpan<T> dy, Span<T> dx) where T : IFloatingPointIeee754<T>
    {
        for (int i = 0; i < y.Length; i++) dx[i] = dy[i] * y[i];
    }

    /// <summary>y = ln x.</summary>
    public static void Log<T>(ReadOnlySpan<T> x, Span<T> y) where T : IFloatingPointIeee754<T>
    {
        for (int i = 0; i < x.Length; i++) y[i] = T.Log(x[i]);
    }

    /// <summary>dx = dy / x.</summary>
    public static void LogBackward<T>(ReadOnlySpan<T> x, ReadOnlySpan<T> dy, Span<T> dx) where T : IFloatingPointIeee754<T>
    {
        for (int i = 0; i < x.Length; i++) dx[i] = dy[i] / x[i];
    }

    /// <summary>y = x².</summary>
    public static void Square<T>(ReadOnlySpan<T> x, Span<T> y) where T : IFloatingPointIeee754<T>
    {
        for (int i = 0; i < x.Length; i++) y[i] = x[i] * x[i];
    }

    /// <summary>dx = 2 x dy.</summary>
    public static void SquareBackward<T>(ReadOnlySpan<T> x, ReadOnlySpan<T> dy, Span<T> dx) where T : IFloatingPointIeee754<T>
    {
        T two = T.One + T.One;
        for (int i = 0; i < x.Length; i++) dx[i] = two * x[i] * dy[i];
    }

    // ---------------------------------------------------------------- matrix product

    /// <summary>c (m x n) = a (m x k) · b (k x n). A batched left operand (…, m, k) is passed with its leading dimensions folded into m.</summary>
    public static void MatMul<T>(ReadOnlySpan<T> a, ReadOnlySpan<T> b, Span<T> c, int m, int k, int n) where T : IFloatingPointIeee754<T>
    {
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
            {
                T sum = T.Zero;
                for (int p = 0; p < k; p++) sum += a[i * k + p] * b[p * n + j];
                c[i * n + j] = sum;
            }
    }

    /// <summary>da (m x k) = dc · bᵀ; db (k x n) = aᵀ · dc.</summary>
    public static void MatMulBackward<T>(ReadOnlySpan<T> a, ReadOnlySpan<T> b, ReadOnlySpan<T> dc, Span<T> da, Span<T> db, int m, int k, int n)
        where T : IFloatingPointIeee754<T>
    {
        if (!da.IsEmpty)
            for (int i = 0; i < m; i++)
                for (int p = 0; p < k; p++)
                {
                    T sum = T.Zero;
                    for (int j = 0; j < n; j++) sum += dc[i * n + j] * b[p * n + j];
                    da[i * k + p] = sum;
                }
        if (!db.IsEmpty)
            for (int p = 0; p < k; p++)
                for (int j = 0; j < n; j++)
                {
                    T sum = T.Zero;
                    for (int i = 0; i < m; i++) sum += a[i * k + p] * dc[i * n + j];
                    db[p * n + j] = sum;
                }
    }

    // ---------------------------------------------------------------- softmax family

    /// <summary>y = softmax of x along the axis of the (outer, axis, inner) view (the maximum is subtracted first).</summary>
    public static void Softmax<T>(ReadOnlySpan<T> x, Span<T> y, int outer, int axis, int inner) where T : IFloatingPointIeee754<T>
    {
        for (int o = 0; o < outer; o++)
            for (int i = 0; i < inner; i++)
            {
                int start = o * axis * inner + i;
                T max = T.NegativeInfinity;
                for (int a = 0; a < axis; a++) max = T.Max(max, x[start + a * inner]);
                T sum = T.Zero;
                for (int a = 0; a < axis; a++)
                {
                    T e = T.Exp(x[start + a * inner] - max);
                    y[start + a * inner] = e;
                    sum += e;
                }
                for (int a = 0; a < axis; a++) y[start + a * inner] /= sum;
            }
    }

    /// <summary>dx = y ⊙ (dy - Σ_axis dy ⊙ y), from the output y = softmax(x).</summary>
    public static void SoftmaxBackward<T>(ReadOnlySpan<T> y, ReadOnlySpan<T> dy, Span<T> dx, int outer, int axis, int inner) where T : IFloatingPointIeee754<T>
    {
        for (int o = 0; o < outer; o++)
            for (int i = 0; i < inner; i++)
            {
                int start = o * axis * inner + i;
                T dot = T.Zero;
                for (int a = 0; a < axis; a++) dot += dy[start + a * inner] * y[start + a * inner];
                for (int a = 0; a < axis; a++) dx[start + a * inner] = y[start + a * inner] * (dy[start + a * inner] - dot);
            }
    }

    /// <summary>y = x - max - ln Σ e^(x - max) along the axis.</summary>
    public static void LogSoftmax<T>(ReadOnlySpan<T> x, Span<T> y, int outer, int axis, int inner) where T : IFloatingPointIeee754<T>
    {
        for (int o = 0; o < outer; o++)
            for (int i = 0; i < inner; i++)
            {
                int start = o * axis * inner + i;
                T max = T.NegativeInfinity;
                for (int a = 0; a < axis; a++) max = T.Max(max, x[start + a * inner]);
                T sum = T.Zero;
                for (int a = 0; a < axis; a++) sum += T.Exp(x[start + a * inner] - max);
                T logSum = T.Log(sum);
                for (int a = 0; a < axis; a++) y[start + a * inner] = x[start + a * inner] - max - logSum;
            }
    }

    /// <summary>dx = dy - e^y Σ_axis dy, from the output y = log-softmax(x).</summary>
    public static void LogSoftmaxBackward<T>(ReadOnlySpan<T> y, ReadOnlySpan<T> dy, Span<T> dx, int outer, int axis, int inner) where T : IFloatingPointIeee754<T>
    {
        for (int o = 0; o < outer; o++)
            for (int i = 0; i < inner; i++)
            {
                int start = o * axis * inner + i;
                T sum = T.Zero;
                for (int a = 0; a < axis; a++) sum += dy[start + a * inner];
                for (int a = 0; a < axis; a++) dx[start + a * inner] = dy[start + a * inner] - T.Exp(y[start + a * inner]) * sum;
            }
    }

    // ---------------------------------------------------------------- losses

    /// <summary>
    /// The mean over <paramref name="rows"/> of -log softmax(logits[r])[labels[r]]; writes the softmax
    /// probabilities (rows x classes). Throws <see cref="ArgumentException"/> for a label outside [0, classes).
    /// </summary>
    public static T SoftmaxCrossEntropy<T>(ReadOnlySpan<T> logits, ReadOnlySpan<int> labels, int rows, int classes, Span<T> probabilities)
        where T : IFloatingPointIeee754<T>
    {
        T total = T.Zero;
        for (int r = 0; r < rows; r++)
        {
            int label = labels[r];
            if ((uint)label >= (uint)classes)
                throw new ArgumentException($"SoftmaxCrossEntropy: label {label} of row {r} is outside [0, {classes}).", nameof(labels));
            var row = logits.Slice(r * classes, classes);
            T max = T.NegativeInfinity;
            for (int c = 0; c < classes; c++) max = T.Max(max, row[c]);
            T sum = T.Zero;
            for (int c = 0; c < classes; c++) sum += T.Exp(row[c] - max);
            for (int c = 0; c < classes; c++) probabilities[r * classes + c] = T.Exp(row[c] - max) / sum;
            total += max + T.Log(sum) - row[label];
        }
        return total / T.CreateChecked(rows);
    }

    /// <summary>dLogits = (p - onehot(label)) * dLoss / rows, from the probabilities the forward wrote.</summary>
    public static void SoftmaxCrossEntropyBackward<T>(ReadOnlySpan<T> probabilities, ReadOnlySpan<int> labels, int rows, int classes, T dLoss, Span<T> dLogits)
        where T : IFloatingPointIeee754<T>
    {
        T scale = dLoss / T.CreateChecked(rows);
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < classes; c++)
            {
                T target = c == labels[r] ? T.One : T.Zero;
                dLogits[r * classes + c] = (probabilities[r * classes + c] - target) * scale;
            }
    }

    /// <summary>The mean over all elements of (prediction - target)².</summary>
    public static T MeanSquaredError<T>(ReadOnlySpan<T> prediction, ReadOnlySpan<T> target) where T : IFloatingPointIeee754<T>
    {
        T sum = T.Zero;
        for (int i = 0; i < prediction.Length; i++)
        {
            T d = prediction[i] - target[i];
            sum += d * d;
        }
        return sum / T.CreateChecked(prediction.Length);
    }

    /// <summary>dPrediction = 2 (p - t) / n * dLoss; dTarget = its negation.</summary>
    public static void MeanSquaredErrorBackward<T>(ReadOnlySpan<T> prediction, ReadOnlySpan<T> target, T dLoss, Span<T> dPrediction, Span<T> dTarget)
        where T : IFloatingPointIeee754<T>
    {
        T scale = (T.One + T.One) * dLoss / T.CreateChecked(prediction.Length);
        for (int i = 0; i < prediction.Length; i++)
        {
            T g = (prediction[i] - target[i]) * scale;
            if (!dPrediction.IsEmpty) dPrediction[i] = g;
            if (!dTarget.IsEmpty) dTarget[i] = -g;
        }
    }

    // ---------------------------------------------------------------- reductions

    /// <summary>The sum of all elements.</summary>
    public static T Sum<T>(ReadOnlySpan<T> x) where T : IFloatingPointIeee754<T>
    {
        T sum = T.Zero;
        for (int i = 0; i < x.Length; i++) sum += x[i];
        return sum;
    }

    /// <summary>dx = dy everywhere.</summary>
    public static void SumBackward<T>(T dy, Span<T> dx) where T : IFloatingPointIeee754<T> => dx.Fill(dy);

    /// <summary>The mean of all elements.</summary>
    public static T Mean<T>(ReadOnlySpan<T> x) where T : IFloatingPointIeee754<T> => Sum(x) / T.CreateChecked(x.Length);

    /// <summary>dx = dy / n everywhere.</summary>
    public static void MeanBackward<T>(T dy, Span<T> dx) where T : IFloatingPointIeee754<T> => dx.Fill(dy / T.CreateChecked(dx.Length));

    /// <summary>y[o, i] = Σ_a x[o, a, i].</summary>
    public static void SumAxis<T>(ReadOnlySpan<T> x, Span<T> y, int outer, int axis, int inner) where T : IFloatingPointIeee754<T>
    {
        for (int o = 0; o < outer; o++)
            for (int i = 0; i < inner; i++)
            {
                T sum = T.Zero;
                for (int a = 0; a < axis; a++) sum += x[(o * axis + a) * inner + i];
                y[o * inner + i] = sum;
            }
    }

    /// <summary>dx[o, a, i] = dy[o, i].</summary>
    public static void SumAxisBackward<T>(ReadOnlySpan<T> dy, Span<T> dx, int outer, int axis, int inner) where T : IFloatingPointIeee754<T>
    {
        for (int o = 0; o < outer; o++)
            for (int a = 0; a < axis; a++)
                for (int i = 0; i < inner; i++)
                    dx[(o * axis + a) * inner + i] = dy[o * inner + i];
    }

    /// <summary>y[o, i] = (Σ_a x[o, a, i]) / axis.</summary>
    public static void MeanAxis<T>(ReadOnlySpan<T> x, Span<T> y, int outer, int axis, int inner) where T : IFloatingPointIeee754<T>
    {
        SumAxis(x, y, outer, axis, inner);
        T count = T.CreateChecked(axis);
        for (int j = 0; j < outer * inner; j++) y[j] /= count;
    }

    /// <summary>dx[o, a, i] = dy[o, i] / axis.</summary>
    public static void MeanAxisBackward<T>(ReadOnlySpan<T> dy, Span<T> dx, int outer, int axis, int inner) where T : IFloatingPointIeee754<T>
    {
        T count = T.CreateChecked(axis);
        for (int o = 0; o < outer; o++)
            for (int a = 0; a < axis; a++)
                for (int i = 0; i < inner; i++)
                    dx[(o * axis + a) * inner + i] = dy[o * inner + i] / count;
    }
}
