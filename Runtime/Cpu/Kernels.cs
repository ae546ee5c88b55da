using System;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace ModelGen.Cpu;

/// <summary>
/// Softmax, reductions, broadcasting and losses over contiguous row-major spans. An axis is addressed as the
/// (outer × axis × inner) view around it: outer = product of the dimensions before it, inner = product of those
/// after it. The hot cases (softmax over the last axis, <see cref="Sum"/>, <see cref="SumRows"/>) are vectorized
/// with a scalar tail; the others are plain loops.
/// </summary>
/// <remarks>
/// Accuracy choices: softmax subtracts the row maximum before exponentiating and log-softmax uses log-sum-exp,
/// so no input overflows. Softmax denominators and per-row dot products are summed in float SIMD lanes (a row
/// holds at most a few thousand values in [0, 1] or gradients of similar size). <see cref="Sum"/> adds float
/// lanes over blocks of 256 values and the block totals in double, so its error does not grow with the length.
/// Losses are accumulated in double.
/// </remarks>
public static partial class Kernels
{
    /// <summary>y = softmax(x) along the middle axis of the (outer × axis × inner) view.</summary>
    /// <param name="x">The input, outer·axis·inner values.</param>
    /// <param name="y">The output, same layout (may be the same span as x).</param>
    /// <param name="outer">The product of the dimensions before the axis.</param>
    /// <param name="axis">The length of the axis.</param>
    /// <param name="inner">The product of the dimensions after the axis.</param>
    public static void Softmax(ReadOnlySpan<float> x, Span<float> y, int outer, int axis, int inner)
    {
        int total = CheckView(x.Length, y.Length, outer, axis, inner, nameof(x), nameof(y));
        if (total == 0)
            return;
        if (inner == 1)
        {
            for (int o = 0; o < outer; o++)
                SoftmaxRow(x.Slice(o * axis, axis), y.Slice(o * axis, axis));
            return;
        }
        for (int o = 0; o < outer; o++)
        {
            int baseIndex = o * axis * inner;
            for (int i = 0; i < inner; i++)
            {
                int start = baseIndex + i;
                float max = float.NegativeInfinity;
                for (int a = 0; a < axis; a++)
                    max = MathF.Max(max, x[start + a * inner]);
                float sum = 0f;
                for (int a = 0; a < axis; a++)
                {
                    float e = MathF.Exp(x[start + a * inner] - max);
                    y[start + a * inner] = e;
                    sum += e;
                }
                float inv = 1f / sum;
                for (int a = 0; a < axis; a++)
                    y[start + a * inner] *= inv;
            }
        }
    }

    /// <summary>y = log softmax(x) = x − max − log Σ e^(x − max) along the middle axis of the (outer × axis × inner) view.</summary>
    /// <param name="x">The input, outer·axis·inner values.</param>
    /// <param name="y">The output, same layout (may be the same span as x).</param>
    /// <param name="outer">The product of the dimensions before the axis.</param>
    /// <param name="axis">The length of the axis.</param>
    /// <param name="inner">The product of the dimensions after the axis.</param>
    public static void LogSoftmax(ReadOnlySpan<float> x, Span<float> y, int outer, int axis, int inner)
    {
        int total = CheckView(x.Length, y.Length, outer, axis, inner, nameof(x), nameof(y));
        if (total == 0)
            return;
        for (int o = 0; o < outer; o++)
        {
            int baseIndex = o * axis * inner;
            if (inner == 1)
            {
                ReadOnlySpan<float> row = x.Slice(baseIndex, axis);
                float max = Max(row);
                float shift = max + MathF.Log(SumExp(row, max));
                for (int a = 0; a < axis; a++)
                    y[baseIndex + a] = row[a] - shift;
                continue;
            }
            for (int i = 0; i < inner; i++)
            {
                int start = baseIndex + i;
                float max = float.NegativeInfinity;
                for (int a = 0; a < axis; a++)
                    max = MathF.Max(max, x[start + a * inner]);
                float sum = 0f;
                for (int a = 0; a < axis; a++)
                    sum += MathF.Exp(x[start + a * inner] - max);
                float shift = max + MathF.Log(sum);
                for (int a = 0; a < axis; a++)
                    y[start + a * inner] = x[start + a * inner] - shift;
            }
        }
    }

    /// <summary>dx = y ⊙ (dy − Σ_axis dy ⊙ y), the gradient of softmax given its output y.</summary>
    /// <param name="y">The softmax output.</param>
    /// <param name="dy">The gradient with respect to y.</param>
    /// <param name="dx">The gradient with respect to the softmax input (may be the same span as dy).</param>
    /// <param name="outer">The product of the dimensions before the axis.</param>
    /// <param name="axis">The length of the axis.</param>
    /// <param name="inner">The product of the dimensions after the axis.</param>
    public static void SoftmaxBackward(ReadOnlySpan<float> y, ReadOnlySpan<float> dy, Span<float> dx, int outer, int axis, int inner)
    {
        int total = CheckView(y.Length, dx.Length, outer, axis, inner, nameof(y), nameof(dx));
        CheckLength(dy.Length, total, nameof(dy));
        for (int o = 0; o < outer; o++)
        {
            int baseIndex = o * axis * inner;
            for (int i = 0; i < inner; i++)
            {
                int start = baseIndex + i;
                float dot = 0f;
                for (int a = 0; a < axis; a++)
                    dot += dy[start + a * inner] * y[start + a * inner];
                for (int a = 0; a < axis; a++)
                {
                    int idx = start + a * inner;
                    dx[idx] = y[idx] * (dy[idx] - dot);
                }
            }
        }
    }

    /// <summary>dx = dy − e^y · Σ_axis dy, the gradient of log-softmax given its output y.</summary>
    /// <param name="y">The log-softmax output.</param>
    /// <param name="dy">The gradient with respect to y.</param>
    /// <param name="dx">The gradient with respect to the log-softmax input (may be the same span as dy).</param>
    /// <param name="outer">The product of the dimensions before the axis.</param>
    /// <param name="axis">The length of the axis.</param>
    /// <param name="inner">The product of the dimensions after the axis.</param>
    public static void LogSoftmaxBackward(ReadOnlySpan<float> y, ReadOnlySpan<float> dy, Span<float> dx, int outer, int axis, int inner)
    {
        int total = CheckView(y.Length, dx.Length, outer, axis, inner, nameof(y), nameof(dx));
        CheckLength(dy.Length, total, nameof(dy));
        for (int o = 0; o < outer; o++)
        {
            int baseIndex = o * axis * inner;
            for (int i = 0; i < inner; i++)
            {
                int start = baseIndex + i;
                float sum = 0f;
                for (int a = 0; a < axis; a++)
                    sum += dy[start + a * inner];
                for (int a = 0; a < axis; a++)
                {
                    int idx = start + a * inner;
                    dx[idx] = dy[idx] - MathF.Exp(y[idx]) * sum;
                }
            }
        }
    }

    /// <summary>The sum of all values (float SIMD lanes per block of 256, blocks added in double; the scalar path adds in double).</summary>
    /// <param name="x">The values.</param>
    /// <returns>Σ x.</returns>
    public static float Sum(ReadOnlySpan<float> x)
    {
        const int Block = 256;
        double total = 0;
        if (CpuFeatures.Active == SimdLevel.Scalar)
        {
            foreach (float v in x)
                total += v;
            return (float)total;
        }
        for (int start = 0; start < x.Length; start += Block)
            total += SumFloat(x.Slice(start, Math.Min(Block, x.Length - start)));
        return (float)total;
    }

    /// <summary>The mean of all values: <see cref="Sum"/> divided (in float) by the count.</summary>
    /// <param name="x">The values (at least one).</param>
    /// <returns>Σ x / |x|.</returns>
    public static float Mean(ReadOnlySpan<float> x) => Sum(x) / x.Length;

    /// <summary>y = x (a reshape's copy between two buffers of the same length).</summary>
    /// <param name="x">The source.</param>
    /// <param name="y">The destination, as long as <paramref name="x"/>.</param>
    public static void Copy(ReadOnlySpan<float> x, Span<float> y)
    {
        if (x.Length != y.Length) throw new ArgumentException($"Copy of {x.Length} floats into {y.Length}.", nameof(y));
        x.CopyTo(y);
    }

    /// <summary>Every element of y = value · scale (the gradient of a sum or mean over all elements).</summary>
    /// <param name="y">The output.</param>
    /// <param name="value">The value (a scalar gradient).</param>
    /// <param name="scale">Its factor (1, or 1/count for a mean).</param>
    public static void Fill(Span<float> y, float value, float scale) => y.Fill(scale == 1f ? value : value * scale);

    /// <summary>y[o, i] = scale · Σ_a x[o, a, i]: sums the middle axis of the (outer × axis × inner) view.</summary>
    /// <param name="x">The input, outer·axis·inner values.</param>
    /// <param name="outer">The product of the dimensions before the axis.</param>
    /// <param name="axis">The length of the summed axis.</param>
    /// <param name="inner">The product of the dimensions after the axis.</param>
    /// <param name="y">The output, outer·inner values (overwritten).</param>
    /// <param name="scale">A factor applied to every sum (1/axis for a mean).</param>
    public static void ReduceSum(ReadOnlySpan<float> x, int outer, int axis, int inner, Span<float> y, float scale)
    {
        CheckNonNegative(outer, axis, inner);
        CheckLength(x.Length, Elements(outer, axis, inner), nameof(x));
        CheckLength(y.Length, Elements(outer, inner), nameof(y));
        for (int o = 0; o < outer; o++)
        {
            if (inner == 1)
            {
                y[o] = scale * Sum(x.Slice(o * axis, axis));
                continue;
            }
            Span<float> dst = y.Slice(o * inner, inner);
            SumRows(x.Slice(o * axis * inner, axis * inner), axis, inner, dst, accumulate: false);
            if (scale != 1f)
                ScaleInPlace(dst, scale);
        }
    }

    /// <summary>dx[o, a, i] = scale · dy[o, i]: the gradient of <see cref="ReduceSum"/> (copies along the axis).</summary>
    /// <param name="dy">The reduced values, outer·inner.</param>
    /// <param name="outer">The product of the dimensions before the axis.</param>
    /// <param name="axis">The length of the axis to broadcast along.</param>
    /// <param name="inner">The product of the dimensions after the axis.</param>
    /// <param name="dx">The output, outer·axis·inner values (overwritten).</param>
    /// <param name="scale">A factor applied to every value.</param>
    public static void BroadcastAxis(ReadOnlySpan<float> dy, int outer, int axis, int inner, Span<float> dx, float scale)
    {
        CheckNonNegative(outer, axis, inner);
        CheckLength(dy.Length, Elements(outer, inner), nameof(dy));
        CheckLength(dx.Length, Elements(outer, axis, inner), nameof(dx));
        for (int o = 0; o < outer; o++)
        {
            ReadOnlySpan<float> src = dy.Slice(o * inner, inner);
            for (int a = 0; a < axis; a++)
            {
                Span<float> dst = dx.Slice((o * axis + a) * inner, inner);
                if (scale == 1f)
                    src.CopyTo(dst);
                else
                    ScaleCopy(src, dst, scale);
            }
        }
    }

    /// <summary>
    /// Numpy broadcasting: y (shape <paramref name="yShape"/>) = x (shape <paramref name="xShape"/>) repeated along
    /// every dimension where x has size 1 or that x lacks (shapes are aligned at their last dimension).
    /// </summary>
    /// <param name="x">The input values.</param>
    /// <param name="xShape">The input shape.</param>
    /// <param name="y">The output values (overwritten).</param>
    /// <param name="yShape">The output shape; x's shape must broadcast to it.</param>
    public static void BroadcastTo(ReadOnlySpan<float> x, ReadOnlySpan<int> xShape, Span<float> y, ReadOnlySpan<int> yShape)
    {
        var scratch = new Scratch<int>(stackalloc int[Scratch.StackInts], 2 * Math.Max(yShape.Length, 1));
        BroadcastToCore(x, xShape, y, yShape, scratch.Span);
        scratch.Dispose();
    }

    /// <summary>
    /// <see cref="BroadcastTo"/> with its scratch: y's strides in x and the odometer's index, an int each per dimension
    /// (on the stack up to rank 128, pooled beyond; returned without a finally, which would keep the loop's locals off
    /// registers: after an error a rented array is left to the GC).
    /// </summary>
    static void BroadcastToCore(ReadOnlySpan<float> x, ReadOnlySpan<int> xShape, Span<float> y, ReadOnlySpan<int> yShape, Span<int> scratch)
    {
        int rank = yShape.Length;
        Span<int> strides = scratch.Slice(0, Math.Max(rank, 1)), index = scratch.Slice(Math.Max(rank, 1), rank);
        long xCount = BroadcastStrides(xShape, yShape, strides, nameof(xShape));
        long yCount = ShapeCount(yShape, nameof(yShape));
        CheckLength(x.Length, xCount, nameof(x));
        CheckLength(y.Length, yCount, nameof(y));
        if (yCount == 0)
            return;
        if (rank == 0)
        {
            y[0] = x[0];
            return;
        }
        int last = yShape[rank - 1];
        int lastStride = strides[rank - 1];
        index.Clear();
        int xOffset = 0;
        for (long yOffset = 0; yOffset < yCount; yOffset += last)
        {
            Span<float> dst = y.Slice((int)yOffset, last);
            if (lastStride == 1)
                x.Slice(xOffset, last).CopyTo(dst);
            else
                dst.Fill(x[xOffset]);
            xOffset = Advance(index, yShape, strides, xOffset);
        }
    }

    /// <summary>
    /// The inverse (adjoint) of <see cref="BroadcastTo"/>: y (shape <paramref name="yShape"/>) = x summed over every
    /// dimension that broadcasting y to <paramref name="xShape"/> would repeat.
    /// </summary>
    /// <param name="x">The broadcast values (e.g. a gradient).</param>
    /// <param name="xShape">Their shape.</param>
    /// <param name="y">The output values (overwritten).</param>
    /// <param name="yShape">The smaller shape; it must broadcast to <paramref name="xShape"/>.</param>
    public static void ReduceTo(ReadOnlySpan<float> x, ReadOnlySpan<int> xShape, Span<float> y, ReadOnlySpan<int> yShape)
    {
        var scratch = new Scratch<int>(stackalloc int[Scratch.StackInts], 2 * Math.Max(xShape.Length, 1));
        ReduceToCore(x, xShape, y, yShape, scratch.Span);
        scratch.Dispose();
    }

    /// <summary><see cref="ReduceTo"/> with its scratch (x's strides in y and the odometer's index, as <see cref="BroadcastToCore"/>).</summary>
    static void ReduceToCore(ReadOnlySpan<float> x, ReadOnlySpan<int> xShape, Span<float> y, ReadOnlySpan<int> yShape, Span<int> scratch)
    {
        int rank = xShape.Length;
        Span<int> strides = scratch.Slice(0, Math.Max(rank, 1)), index = scratch.Slice(Math.Max(rank, 1), rank);
        long yCount = BroadcastStrides(yShape, xShape, strides, nameof(yShape));
        long xCount = ShapeCount(xShape, nameof(xShape));
        CheckLength(x.Length, xCount, nameof(x));
        CheckLength(y.Length, yCount, nameof(y));
        y.Slice(0, (int)yCount).Clear();
        if (xCount == 0)
            return;
        if (rank == 0)
        {
            y[0] = x[0];
            return;
        }
        int last = xShape[rank - 1];
        int lastStride = strides[rank - 1];
        index.Clear();
        int yOffset = 0;
        for (long xOffset = 0; xOffset < xCount; xOffset += last)
        {
            ReadOnlySpan<float> src = x.Slice((int)xOffset, last);
            if (lastStride == 1)
                AddInPlace(y.Slice(yOffset, last), src);
            else
                y[yOffset] += SumFloat(src);
            yOffset = Advance(index, xShape, strides, yOffset);
        }
    }

    /// <summary>y[c] = Σ_r x[r, c] (or y[c] += … when <paramref name="accumulate"/>): the bias gradient of a linear layer.</summary>
    /// <param name="x">The matrix, rows × cols, row-major.</param>
    /// <param name="rows">The number of rows summed.</param>
    /// <param name="cols">The number of columns.</param>
    /// <param name="y">The cols sums.</param>
    /// <param name="accumulate">Add to y instead of overwriting it.</param>
    public static void SumRows(ReadOnlySpan<float> x, int rows, int cols, Span<float> y, bool accumulate)
    {
        CheckNonNegative(rows, cols, 1);
        CheckLength(x.Length, (long)rows * cols, nameof(x));
        CheckLength(y.Length, cols, nameof(y));
        Span<float> dst = y.Slice(0, cols);
        if (!accumulate)
            dst.Clear();
        for (int r = 0; r < rows; r++)
            AddInPlace(dst, x.Slice(r * cols, cols));
    }

    /// <summary>
    /// The mean over rows of −log softmax(logits)[label], computed stably by log-sum-exp; writes the softmax
    /// probabilities (rows × classes) for the backward pass.
    /// </summary>
    /// <param name="logits">rows × classes scores.</param>
    /// <param name="labels">rows class indices in [0, classes).</param>
    /// <param name="rows">The batch size.</param>
    /// <param name="classes">The number of classes.</param>
    /// <param name="probabilities">Receives softmax(logits), rows × classes.</param>
    /// <returns>The mean cross-entropy loss.</returns>
    public static float SoftmaxCrossEntropy(ReadOnlySpan<float> logits, ReadOnlySpan<int> labels, int rows, int classes, Span<float> probabilities)
    {
        CheckLosses(logits.Length, labels, rows, classes, nameof(logits));
        CheckLength(probabilities.Length, (long)rows * classes, nameof(probabilities));
        if (rows == 0)
            return 0f;
        if (classes <= 16 && CpuFeatures.Active == SimdLevel.Avx512)
            return FewClassSoftmaxCrossEntropy(logits, labels, rows, classes, probabilities);
        double total = 0;
        for (int r = 0; r < rows; r++)
        {
            ReadOnlySpan<float> row = logits.Slice(r * classes, classes);
            Span<float> p = probabilities.Slice(r * classes, classes);
            float max = Max(row);
            float sum = ExpShifted(row, p, max);
            float inv = 1f / sum;
            ScaleInPlace(p, inv);
            // −log p[label] = log Σ e^(x − max) − (x[label] − max), exact even when p[label] underflows.
            total += Math.Log(sum) - (row[labels[r]] - max);
        }
        return (float)(total / rows);
    }

    /// <summary>dLogits = (p − onehot(label)) · dLoss / rows: the gradient of <see cref="SoftmaxCrossEntropy"/>.</summary>
    /// <param name="probabilities">The probabilities written by the forward call.</param>
    /// <param name="labels">rows class indices.</param>
    /// <param name="rows">The batch size.</param>
    /// <param name="classes">The number of classes.</param>
    /// <param name="dLoss">The gradient of the final objective with respect to the loss (1 for the loss itself).</param>
    /// <param name="dLogits">Receives the gradient with respect to the logits (may be the probabilities span).</param>
    public static void SoftmaxCrossEntropyBackward(ReadOnlySpan<float> probabilities, ReadOnlySpan<int> labels, int rows, int classes, float dLoss, Span<float> dLogits)
    {
        CheckLosses(probabilities.Length, labels, rows, classes, nameof(probabilities));
        CheckLength(dLogits.Length, (long)rows * classes, nameof(dLogits));
        if (rows == 0)
            return;
        float scale = dLoss / rows;
        for (int r = 0; r < rows; r++)
        {
            ScaleCopy(probabilities.Slice(r * classes, classes), dLogits.Slice(r * classes, classes), scale);
            dLogits[r * classes + labels[r]] -= scale;
        }
    }

    /// <summary>The mean of (prediction − target)² over all elements, accumulated in double.</summary>
    /// <param name="prediction">The predictions.</param>
    /// <param name="target">The targets, as many as the predictions.</param>
    /// <returns>The mean squared error.</returns>
    public static float MeanSquaredError(ReadOnlySpan<float> prediction, ReadOnlySpan<float> target)
    {
        if (prediction.Length != target.Length)
            throw new ArgumentException($"Prediction has {prediction.Length} values but target has {target.Length}.", nameof(target));
        if (prediction.Length == 0)
            throw new ArgumentException("The mean squared error of zero values is undefined.", nameof(prediction));
        double total = 0;
        for (int i = 0; i < prediction.Length; i++)
        {
            double d = (double)prediction[i] - target[i];
            total += d * d;
        }
        return (float)(total / prediction.Length);
    }

    /// <summary>dPrediction = 2 (prediction − target) / n · dLoss: the gradient of <see cref="MeanSquaredError"/>.</summary>
    /// <param name="prediction">The predictions.</param>
    /// <param name="target">The targets.</param>
    /// <param name="dLoss">The gradient with respect to the loss.</param>
    /// <param name="dPrediction">Receives the gradient with respect to the predictions.</param>
    public static void MeanSquaredErrorBackward(ReadOnlySpan<float> prediction, ReadOnlySpan<float> target, float dLoss, Span<float> dPrediction)
    {
        if (prediction.Length != target.Length)
            throw new ArgumentException($"Prediction has {prediction.Length} values but target has {target.Length}.", nameof(target));
        CheckLength(dPrediction.Length, prediction.Length, nameof(dPrediction));
        if (prediction.Length == 0)
            return;
        float scale = 2f * dLoss / prediction.Length;
        for (int i = 0; i < prediction.Length; i++)
            dPrediction[i] = (prediction[i] - target[i]) * scale;
    }

    // ---- validation ----

    static int CheckView(int xLength, int yLength, int outer, int axis, int inner, string xName, string yName)
    {
        CheckNonNegative(outer, axis, inner);
        long total = Elements(outer, axis, inner);
        CheckLength(xLength, total, xName);
        CheckLength(yLength, total, yName);
        return (int)total;
    }

    static void CheckNonNegative(int outer, int axis, int inner)
    {
        if (outer < 0 || axis < 0 || inner < 0)
            throw new ArgumentException($"Sizes must be non-negative (outer={outer}, axis={axis}, inner={inner}).");
        if (Elements(outer, axis, inner) > int.MaxValue)
            throw new ArgumentException($"The view {outer} x {axis} x {inner} has more than {int.MaxValue} elements.");
    }

    /// <summary>
    /// a·b·c·d for sizes a caller gave, saturated just above <see cref="int.MaxValue"/> (no span holds more), so a
    /// product that would overflow a long (three or four large ints) cannot pass a length check.
    /// </summary>
    /// <exception cref="ArgumentException">A size is negative.</exception>
    internal static long Elements(long a, long b, long c = 1, long d = 1)
    {
        if ((a | b | c | d) < 0)
            throw new ArgumentException($"Sizes must be non-negative ({a}, {b}, {c}, {d}).");
        const long Over = int.MaxValue + 1L;
        long n = Math.Min(Math.Min(a, Over) * Math.Min(b, Over), Over);
        n = Math.Min(n * Math.Min(c, Over), Over);
        return Math.Min(n * Math.Min(d, Over), Over);
    }

    static void CheckLength(int length, long needed, string name)
    {
        if (length < needed)
            throw new ArgumentException($"Span {name} has {length} elements but {needed} are needed.", name);
    }

    static void CheckLosses(int length, ReadOnlySpan<int> labels, int rows, int classes, string name)
    {
        if (rows < 0 || classes <= 0)
            throw new ArgumentException($"Need rows >= 0 and classes > 0 (rows={rows}, classes={classes}).");
        CheckLength(length, (long)rows * classes, name);
        CheckLength(labels.Length, rows, nameof(labels));
        for (int r = 0; r < rows; r++)
        {
            if ((uint)labels[r] >= (uint)classes)
                throw new ArgumentOutOfRangeException(nameof(labels), labels[r], $"Label {labels[r]} of row {r} is outside [0, {classes}).");
        }
    }

    /// <summary>
    /// Checks indices that a kernel stores as floats (max pooling's argmax positions, embedding token ids) before it
    /// writes anything: every value must be an integer in [<paramref name="lowest"/>, <paramref name="end"/>). One
    /// vectorized pass (range and integrality of 8 values at a time); only when it finds a suspect value does an exact
    /// scalar pass in double locate the first bad one for the message (kernel, argument, position, value, range).
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">A value is not an integer in the range (NaN included).</exception>
    internal static void CheckIndices(ReadOnlySpan<float> values, int lowest, long end, string kernel, string name)
    {
        if (AllIndices(values, lowest, end))
            return;
        for (int i = 0; i < values.Length; i++)
        {
            double v = values[i];
            if (!(v >= lowest && v < end && v == Math.Floor(v)))
                throw new ArgumentOutOfRangeException(name, values[i], $"{kernel}: {name}[{i}] = {values[i]} is not an integer in [{lowest}, {end}).");
        }
    }

    /// <summary>The vectorized filter of <see cref="CheckIndices"/>: true when every value is an integer in [lowest, (float)end).</summary>
    static bool AllIndices(ReadOnlySpan<float> values, int lowest, long end)
    {
        float lo = lowest, hi = end;
        ref float p = ref MemoryMarshal.GetReference(values);
        int n = values.Length, i = 0;
        if (CpuFeatures.Active != SimdLevel.Scalar && Vector256.IsHardwareAccelerated && n >= 8)
        {
            Vector256<float> vlo = Vector256.Create(lo), vhi = Vector256.Create(hi), ok = Vector256<float>.AllBitsSet;
            for (; i <= n - 8; i += 8)
            {
                Vector256<float> v = Vector256.LoadUnsafe(ref p, (nuint)i);
                ok &= Vector256.GreaterThanOrEqual(v, vlo) & Vector256.LessThan(v, vhi) & Vector256.Equals(Vector256.Floor(v), v);
            }
            if (ok.ExtractMostSignificantBits() != 0xFFu)
                return false;
        }
        for (; i < n; i++)
        {
            float v = Unsafe.Add(ref p, i);
            if (!(v >= lo && v < hi && v == MathF.Floor(v)))
                return false;
        }
        return true;
    }

    internal static long ShapeCount(ReadOnlySpan<int> shape, string name)
    {
        long count = 1;
        foreach (int d in shape)
        {
            if (d < 0)
                throw new ArgumentException($"Shape {Format(shape)} has a negative dimension.", name);
            count *= d;
            if (count > int.MaxValue)
                throw new ArgumentException($"Shape {Format(shape)} has more than {int.MaxValue} elements.", name);
        }
        return count;
    }

    /// <summary>
    /// Checks that <paramref name="small"/> broadcasts to <paramref name="big"/> and writes, per dimension of
    /// <paramref name="big"/>, the stride of <paramref name="small"/> there (0 where it is repeated). Returns small's count.
    /// </summary>
    internal static long BroadcastStrides(ReadOnlySpan<int> small, ReadOnlySpan<int> big, Span<int> strides, string name)
    {
        if (small.Length > big.Length)
            throw new ArgumentException($"Shape {Format(small)} has more dimensions than {Format(big)}.", name);
        ShapeCount(big, name);
        long count = ShapeCount(small, name);
        int shift = big.Length - small.Length;
        int stride = 1;
        for (int d = big.Length - 1; d >= 0; d--)
        {
            int s = d - shift;
            int size = s >= 0 ? small[s] : 1;
            if (size != big[d] && size != 1)
                throw new ArgumentException($"Shape {Format(small)} does not broadcast to {Format(big)} (dimension {d}: {size} vs {big[d]}).", name);
            strides[d] = size == 1 ? 0 : stride;
            stride *= size;
        }
        return count;
    }

    /// <summary>Steps the odometer over all but the last dimension; returns the new offset in the strided operand.</summary>
    static int Advance(Span<int> index, ReadOnlySpan<int> shape, ReadOnlySpan<int> strides, int offset)
    {
        for (int d = shape.Length - 2; d >= 0; d--)
        {
            index[d]++;
            offset += strides[d];
            if (index[d] < shape[d])
                return offset;
            offset -= strides[d] * index[d];
            index[d] = 0;
        }
        return offset;
    }

    internal static string Format(ReadOnlySpan<int> shape) => "(" + string.Join(", ", shape.ToArray()) + ")";

    // ---- vectorized row helpers (Vector512 / Vector256 / scalar by CpuFeatures.Active, scalar tail) ----

    static void SoftmaxRow(ReadOnlySpan<float> x, Span<float> y)
    {
        float max = Max(x);
        float sum = ExpShifted(x, y, max);
        ScaleInPlace(y, 1f / sum);
    }

    static float Max(ReadOnlySpan<float> x)
    {
        ref float p = ref MemoryMarshal.GetReference(x);
        int n = x.Length, i = 0;
        float max = float.NegativeInfinity;
        SimdLevel level = CpuFeatures.Active;
        if (level == SimdLevel.Avx512 && n >= 16)
        {
            Vector512<float> m = Vector512.Create(float.NegativeInfinity);
            for (; i <= n - 16; i += 16)
                m = Vector512.Max(m, Vector512.LoadUnsafe(ref p, (nuint)i));
            for (int l = 0; l < 16; l++)
                max = MathF.Max(max, m.GetElement(l));
        }
        else if (level >= SimdLevel.Avx2 && n >= 8)
        {
            Vector256<float> m = Vector256.Create(float.NegativeInfinity);
            for (; i <= n - 8; i += 8)
                m = Vector256.Max(m, Vector256.LoadUnsafe(ref p, (nuint)i));
            for (int l = 0; l < 8; l++)
                max = MathF.Max(max, m.GetElement(l));
        }
        for (; i < n; i++)
            max = MathF.Max(max, Unsafe.Add(ref p, i));
        return max;
    }

    /// <summary>y = e^(x − max); returns Σ y.</summary>
    static float ExpShifted(ReadOnlySpan<float> x, Span<float> y, float max)
    {
        ref float px = ref MemoryMarshal.GetReference(x);
        ref float py = ref MemoryMarshal.GetReference(y);
        int n = x.Length, i = 0;
        float sum = 0f;
        SimdLevel level = CpuFeatures.Active;
        if (level == SimdLevel.Avx512 && n >= 16)
        {
            Vector512<float> vmax = Vector512.Create(max), acc = Vector512<float>.Zero;
            for (; i <= n - 16; i += 16)
            {
                Vector512<float> e = Vector512.Exp(Vector512.LoadUnsafe(ref px, (nuint)i) - vmax);
                e.StoreUnsafe(ref py, (nuint)i);
                acc += e;
            }
            sum = Vector512.Sum(acc);
        }
        else if (level >= SimdLevel.Avx2 && n >= 8)
        {
            Vector256<float> vmax = Vector256.Create(max), acc = Vector256<float>.Zero;
            for (; i <= n - 8; i += 8)
            {
                Vector256<float> e = Vector256.Exp(Vector256.LoadUnsafe(ref px, (nuint)i) - vmax);
                e.StoreUnsafe(ref py, (nuint)i);
                acc += e;
            }
            sum = Vector256.Sum(acc);
        }
        for (; i < n; i++)
        {
            float e = MathF.Exp(Unsafe.Add(ref px, i) - max);
            Unsafe.Add(ref py, i) = e;
            sum += e;
        }
        return sum;
    }

    /// <summary>Σ e^(x − max) without storing the exponentials.</summary>
    static float SumExp(ReadOnlySpan<float> x, float max)
    {
        ref float px = ref MemoryMarshal.GetReference(x);
        int n = x.Length, i = 0;
        float sum = 0f;
        SimdLevel level = CpuFeatures.Active;
        if (level == SimdLevel.Avx512 && n >= 16)
        {
            Vector512<float> vmax = Vector512.Create(max), acc = Vector512<float>.Zero;
            for (; i <= n - 16; i += 16)
                acc += Vector512.Exp(Vector512.LoadUnsafe(ref px, (nuint)i) - vmax);
            sum = Vector512.Sum(acc);
        }
        else if (level >= SimdLevel.Avx2 && n >= 8)
        {
            Vector256<float> vmax = Vector256.Create(max), acc = Vector256<float>.Zero;
            for (; i <= n - 8; i += 8)
                acc += Vector256.Exp(Vector256.LoadUnsafe(ref px, (nuint)i) - vmax);
            sum = Vector256.Sum(acc);
        }
        for (; i < n; i++)
            sum += MathF.Exp(Unsafe.Add(ref px, i) - max);
        return sum;
    }

    /// <summary>Σ x in float lanes (callers keep x short or add the results in double).</summary>
    static float SumFloat(ReadOnlySpan<float> x)
    {
        ref float p = ref MemoryMarshal.GetReference(x);
        int n = x.Length, i = 0;
        float sum = 0f;
        SimdLevel level = CpuFeatures.Active;
        if (level == SimdLevel.Avx512 && n >= 16)
        {
            Vector512<float> a0 = Vector512<float>.Zero, a1 = Vector512<float>.Zero;
            for (; i <= n - 32; i += 32)
            {
                a0 += Vector512.LoadUnsafe(ref p, (nuint)i);
                a1 += Vector512.LoadUnsafe(ref p, (nuint)(i + 16));
            }
            for (; i <= n - 16; i += 16)
                a0 += Vector512.LoadUnsafe(ref p, (nuint)i);
            sum = Vector512.Sum(a0 + a1);
        }
        else if (level >= SimdLevel.Avx2 && n >= 8)
        {
            Vector256<float> a0 = Vector256<float>.Zero, a1 = Vector256<float>.Zero;
            for (; i <= n - 16; i += 16)
            {
                a0 += Vector256.LoadUnsafe(ref p, (nuint)i);
                a1 += Vector256.LoadUnsafe(ref p, (nuint)(i + 8));
            }
            for (; i <= n - 8; i += 8)
                a0 += Vector256.LoadUnsafe(ref p, (nuint)i);
            sum = Vector256.Sum(a0 + a1);
        }
        for (; i < n; i++)
            sum += Unsafe.Add(ref p, i);
        return sum;
    }

    /// <summary>y += x elementwise.</summary>
    static void AddInPlace(Span<float> y, ReadOnlySpan<float> x)
    {
        ref float py = ref MemoryMarshal.GetReference(y);
        ref float px = ref MemoryMarshal.GetReference(x);
        int n = y.Length, i = 0;
        SimdLevel level = CpuFeatures.Active;
        if (level == SimdLevel.Avx512)
        {
            for (; i <= n - 16; i += 16)
                (Vector512.LoadUnsafe(ref py, (nuint)i) + Vector512.LoadUnsafe(ref px, (nuint)i)).StoreUnsafe(ref py, (nuint)i);
        }
        else if (level == SimdLevel.Avx2)
        {
            for (; i <= n - 8; i += 8)
                (Vector256.LoadUnsafe(ref py, (nuint)i) + Vector256.LoadUnsafe(ref px, (nuint)i)).StoreUnsafe(ref py, (nuint)i);
        }
        for (; i < n; i++)
            Unsafe.Add(ref py, i) += Unsafe.Add(ref px, i);
    }

    /// <summary>y *= s elementwise.</summary>
    static void ScaleInPlace(Span<float> y, float s) => ScaleCopy(y, y, s);

    /// <summary>y = s · x elementwise (y may be x).</summary>
    static void ScaleCopy(ReadOnlySpan<float> x, Span<float> y, float s)
    {
        ref float px = ref MemoryMarshal.GetReference(x);
        ref float py = ref MemoryMarshal.GetReference(y);
        int n = x.Length, i = 0;
        SimdLevel level = CpuFeatures.Active;
        if (level == SimdLevel.Avx512)
        {
            Vector512<float> vs = Vector512.Create(s);
            for (; i <= n - 16; i += 16)
                (Vector512.LoadUnsafe(ref px, (nuint)i) * vs).StoreUnsafe(ref py, (nuint)i);
        }
        else if (level == SimdLevel.Avx2)
        {
            Vector256<float> vs = Vector256.Create(s);
            for (; i <= n - 8; i += 8)
                (Vector256.LoadUnsafe(ref px, (nuint)i) * vs).StoreUnsafe(ref py, (nuint)i);
        }
        for (; i < n; i++)
            Unsafe.Add(ref py, i) = Unsafe.Add(ref px, i) * s;
    }
}
